"""ChatBox load benchmark: `make bench` (or `.venv/bin/python -m bench.run --help`).

Starts the server as deployed (gunicorn + gunicorn.conf.py, one gevent-websocket worker, loopback,
RATELIMIT_ENABLED=false), signs users up over REST, connects simulated users as real Socket.IO clients
(bench/lean_client.py, gevent-based: one process holds thousands), and measures:

1. capacity: sockets held for a while and the server's memory per socket;
2. delivery: `new-message` sent over sockets at a fixed rate by one user to another, stored, received
   by the other; delivered messages per second, receiver-side latency p50/p99, exactly-once check;
3. the same delivery through Redis: two server processes, senders on one, receivers on the other;
4. the same capacity and delivery against a minimal Node.js socket.io relay (bench/node-relay),
   and our figures as ratios of its figures;
5. a group: one group of `--group-members` members (100), every member connected, one member sending
   `new-message {chatId}` at `--group-rate`; copies delivered to the other members, per-copy latency
   p50/p99, exactly-once per copy, and the server's CPU per delivered copy.

Every phase is bounded in time; the load client's own CPU is reported so a saturated client shows.
Prints JSON and a short table; also writes bench/results/latest.json.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import requests  # noqa: E402
from gevent.pool import Pool  # noqa: E402

from bench.lean_client import LeanSocket  # noqa: E402
from bench.servers import (  # noqa: E402
    ROOT,
    Proc,
    node_relay_ready,
    rss_bytes,
    start_chatbox,
    start_node_relay,
    start_redis,
)

PASSWORD = "bench-password-123"
SETTLE_SECONDS = 2.0
MIB = 1024 * 1024


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class CpuMeter:
    """This process's CPU use (user + system) over wall time, as a share of one core."""

    def __init__(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu = usage.ru_utime + usage.ru_stime
        self.wall = time.monotonic()

    def percent(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.monotonic() - self.wall
        return round(100 * (usage.ru_utime + usage.ru_stime - self.cpu) / wall, 1) if wall > 0 else 0.0


def server_cpu_seconds(procs: list[Proc], start: list[float]) -> float:
    return sum(p.cpu() for p in procs) - sum(start)


# --- users ------------------------------------------------------------------------------------


@dataclass
class BenchUser:
    id: str
    token: str


def signup_users(base_url: str, count: int, tag: str, concurrency: int = 20) -> list[BenchUser]:
    def one(i: int) -> BenchUser:
        body = {"fullName": f"Bench {i}", "email": f"bench-{tag}-{i}@example.com", "password": PASSWORD}
        response = requests.post(f"{base_url}/api/auth/signup", json=body, timeout=60)
        response.raise_for_status()
        data = response.json()
        return BenchUser(data["_id"], data["token"])

    return list(Pool(concurrency).map(one, range(count)))


def login_users(base_url: str, emails: list[tuple[str, str]], concurrency: int = 20) -> list[BenchUser]:
    def one(item: tuple[str, str]) -> BenchUser:
        user_id, email = item
        response = requests.post(f"{base_url}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=60)
        response.raise_for_status()
        return BenchUser(user_id, response.json()["token"])

    return list(Pool(concurrency).map(one, emails))


def write_seed_file(path: Path, count: int) -> list[tuple[str, str]]:
    import bcrypt
    from bson import ObjectId

    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    users = [
        {
            "id": str(ObjectId()),
            "fullName": f"Bench {i}",
            "email": f"seed-{i}@example.com",
            "passwordHash": password_hash,
        }
        for i in range(count)
    ]
    path.write_text(json.dumps(users))
    return [(u["id"], u["email"]) for u in users]


def relay_tokens(secret: str, count: int) -> list[BenchUser]:
    """Tokens for the Node relay (no database): HS256 with the same secret and `sub` claim as ChatBox."""
    import jwt
    from bson import ObjectId

    now = datetime.now(UTC)
    users = []
    for _ in range(count):
        user_id = str(ObjectId())
        token = jwt.encode({"sub": user_id, "iat": now, "exp": now + timedelta(hours=1)}, secret, algorithm="HS256")
        users.append(BenchUser(user_id, token))
    return users


# --- phases -----------------------------------------------------------------------------------


def connect_many(
    url_for: Callable[[int], str],
    users: list[BenchUser],
    count: int,
    concurrency: int,
    on_event_for: Callable[[int], Any] | None = None,
    deadline_seconds: float = 180,
) -> tuple[list[LeanSocket], int, float]:
    slots: list[LeanSocket | None] = [None] * count  # socket i belongs to users[i % len(users)]
    failures = Counter[str]()
    started = time.monotonic()
    deadline = started + deadline_seconds

    def one(i: int) -> None:
        if time.monotonic() > deadline:
            failures["deadline"] += 1
            return
        user = users[i % len(users)]
        handler = on_event_for(i) if on_event_for else None
        try:
            slots[i] = LeanSocket(url_for(i), {"token": user.token}, handler)
        except Exception as exc:
            failures[type(exc).__name__] += 1

    Pool(concurrency).map(one, range(count))
    sockets = [s for s in slots if s is not None]
    if failures:
        log(f"connect failures: {dict(failures)}")
    return sockets, sum(failures.values()), time.monotonic() - started


def capacity_phase(name: str, server: Proc, users: list[BenchUser], args: argparse.Namespace) -> dict[str, Any]:
    log(f"{name}: connecting {args.sockets} sockets ({len(users)} users)")
    gevent.sleep(1)
    base_rss = server.rss()
    client_base = rss_bytes(os.getpid())
    sockets, failed, connect_seconds = connect_many(lambda i: server.url, users, args.sockets, args.connect_concurrency)
    log(f"{name}: {len(sockets)} connected in {connect_seconds:.1f}s; holding {args.hold}s")
    gevent.sleep(args.hold)
    held = sum(1 for s in sockets if s.connected)
    rss = server.rss()
    client_rss = rss_bytes(os.getpid())
    for s in sockets:
        s.close()
    result = {
        "sockets_requested": args.sockets,
        "sockets_connected": len(sockets),
        "connect_failures": failed,
        "sockets_held_after_hold": held,
        "hold_seconds": args.hold,
        "connect_seconds": round(connect_seconds, 1),
        "server_rss_idle_mib": round(base_rss / MIB, 1),
        "server_rss_mib": round(rss / MIB, 1),
        "server_kib_per_socket": round((rss - base_rss) / max(1, held) / 1024, 1),
        "client_kib_per_socket": round((client_rss - client_base) / max(1, held) / 1024, 1),
    }
    log(f"{name}: {json.dumps(result)}")
    gevent.sleep(1)
    return result


@dataclass
class Delivery:
    sent_at: dict[int, float] = field(default_factory=dict)
    received_at: dict[int, float] = field(default_factory=dict)
    received: Counter[int] = field(default_factory=Counter)
    acks: Counter[str] = field(default_factory=Counter)
    acked_ok: set[int] = field(default_factory=set)
    acked_at: dict[int, float] = field(default_factory=dict)
    measuring: bool = False

    def on_receiver_event(self, event: str, data: Any) -> None:
        if event != "new-message" or not isinstance(data, dict):
            return
        text = data.get("text", "")
        if not text.startswith("b") or not self.measuring:
            return
        seq = int(text[1:])
        self.received[seq] += 1
        self.received_at.setdefault(seq, time.perf_counter())


def delivery_phase(
    name: str,
    sender_url: str,
    receiver_url: str,
    users: list[BenchUser],
    server_procs: list[Proc],
    args: argparse.Namespace,
    rate: float,
) -> dict[str, Any]:
    pairs = args.pairs
    senders, receivers = users[:pairs], users[pairs : 2 * pairs]
    delivery = Delivery()
    warm: Counter[str] = Counter()

    def receiver_handler(i: int) -> Any:
        def handle(event: str, data: Any) -> None:
            if event == "new-message" and isinstance(data, dict) and data.get("text", "").startswith("w"):
                warm["received"] += 1
            delivery.on_receiver_event(event, data)

        return handle

    log(f"{name}: connecting {pairs} senders and {pairs} receivers")
    rx, rx_failed, _ = connect_many(
        lambda i: receiver_url, receivers, pairs, args.connect_concurrency, on_event_for=receiver_handler
    )
    tx, tx_failed, _ = connect_many(lambda i: sender_url, senders, pairs, args.connect_concurrency)
    if rx_failed or tx_failed or len(tx) != pairs or len(rx) != pairs:
        raise RuntimeError(f"{name}: could not connect every sender and receiver")
    # Warm-up: the first message of each pair creates its chat (heavier); not measured.
    for i, sock in enumerate(tx):
        sock.emit("new-message", {"to": receivers[i].id, "text": f"w{i}"}, callback=lambda ack: None)
    deadline = time.monotonic() + args.drain
    while warm["received"] < pairs and time.monotonic() < deadline:
        gevent.sleep(0.05)
    gevent.sleep(0.5)

    total = int(rate * args.duration)
    run_tag = uuid.uuid4().hex[:8]  # clientMessageIds must not repeat across runs: a repeat is an idempotent no-op
    log(f"{name}: sending {total} messages at {rate}/s over {pairs} pairs")
    delivery.measuring = True
    cpu = CpuMeter()
    server_cpu_start = [p.cpu() for p in server_procs]
    started = time.perf_counter()

    def ack_for(seq: int) -> Callable[[Any], None]:
        def on_ack(ack: Any) -> None:
            ok = isinstance(ack, dict) and ack.get("ok")
            delivery.acks["ok" if ok else "error"] += 1
            if ok:
                delivery.acked_ok.add(seq)
                delivery.acked_at[seq] = time.perf_counter()

        return on_ack

    lag_max = 0.0
    for seq in range(total):
        due = started + seq / rate
        now = time.perf_counter()
        if due > now:
            gevent.sleep(due - now)
        else:
            lag_max = max(lag_max, now - due)
            if seq % 50 == 0:
                gevent.sleep(0)  # let the readers run even when the scheduler is behind
        pair = seq % pairs
        delivery.sent_at[seq] = time.perf_counter()
        tx[pair].emit(
            "new-message",
            {"to": receivers[pair].id, "text": f"b{seq}", "clientMessageId": f"{run_tag}-{seq}"},
            callback=ack_for(seq),
        )
    send_seconds = time.perf_counter() - started
    drain_deadline = time.monotonic() + args.drain
    while (len(delivery.received) < total or len(delivery.acked_ok) < total) and time.monotonic() < drain_deadline:
        gevent.sleep(0.05)
    gevent.sleep(SETTLE_SECONDS)  # a duplicate, or the receiver's copy of a late ack, arrives right behind
    observed_until = time.perf_counter()
    wall = observed_until - started
    client_cpu = cpu.percent()
    server_cpu_used = server_cpu_seconds(server_procs, server_cpu_start)
    server_cpu = round(100 * server_cpu_used / wall, 1) if wall > 0 else 0.0
    delivery.measuring = False
    dropped = sum(1 for s in (*tx, *rx) if not s.connected)

    latencies = [(delivery.received_at[s] - delivery.sent_at[s]) * 1000 for s in delivery.received_at]
    delivered = len(delivery.received)
    last = max(delivery.received_at.values()) if delivery.received_at else started
    duplicates = sum(1 for c in delivery.received.values() if c > 1)
    # Exactly once can only be judged once the server has worked off its backlog: on a saturated server a
    # receiver's socket writer waits behind every queued handler, so an acknowledged message may still be
    # on its way. With a backlog at the end, a lost message cannot be told from a late one.
    unreceived = delivery.acked_ok - set(delivery.received)
    backlog = total - len(delivery.acked_ok | set(delivery.received))
    exactly_once: bool | None
    if duplicates:
        exactly_once = False
    elif backlog == 0:
        exactly_once = not unreceived and delivered == total
    else:
        exactly_once = None
    result = {
        "pairs": pairs,
        "offered_rate_per_s": rate,
        "send_seconds": round(send_seconds, 2),
        "achieved_send_rate_per_s": round(total / send_seconds, 1) if send_seconds else None,
        "client_scheduler_max_lag_ms": round(lag_max * 1000, 1),
        "sent": total,
        "acked_ok": delivery.acks["ok"],
        "acked_error": delivery.acks["error"],
        "delivered": delivered,
        "missing_after_drain": total - delivered,
        "acked_not_received_at_end": len(unreceived),
        "not_acked_at_end": backlog,
        "duplicates": duplicates,
        # Sockets the server closed during the run (e.g. Engine.IO ping timeout on a saturated server):
        # what is emitted to a closed socket is not delivered to it; a real client reconnects and the
        # message waits for it in the database.
        "sockets_dropped": dropped,
        # Every message reached its receiver once, and none twice (None: undecidable, backlog at the end).
        "exactly_once": exactly_once,
        "all_delivered_within_drain": delivered == total,
        "delivered_per_s": round(delivered / (last - started), 1) if delivered and last > started else 0.0,
        "latency_p50_ms": _round(percentile(latencies, 50)),
        "latency_p99_ms": _round(percentile(latencies, 99)),
        "latency_max_ms": _round(max(latencies) if latencies else None),
        "latency_mean_ms": _round(statistics.fmean(latencies) if latencies else None),
        "drain_limit_s": args.drain,
        "client_cpu_percent_of_one_core": client_cpu,
        "server_cpu_percent_of_one_core": server_cpu,
        # The servers' CPU (user + system, every process of the run) over the whole phase, sending and
        # draining, divided by the messages delivered: what one delivered message costs the server.
        "server_cpu_ms_per_delivered": round(1000 * server_cpu_used / delivered, 3) if delivered else None,
        "server_rss_mib": round(sum(p.rss() for p in server_procs) / MIB, 1),
    }
    log(f"{name}: {json.dumps(result)}")
    for s in (*tx, *rx):
        s.close()
    gevent.sleep(0.5)
    return result


def group_phase(name: str, server: Proc, users: list[BenchUser], args: argparse.Namespace) -> dict[str, Any]:
    """One group, one sender at a fixed rate, every other member receiving each message once."""
    members = users[: args.group_members]
    owner, others = members[0], members[1:]
    response = requests.post(
        f"{server.url}/api/chats",
        json={"name": "Bench group", "memberIds": [u.id for u in others]},
        headers={"Authorization": f"Bearer {owner.token}"},
        timeout=60,
    )
    response.raise_for_status()
    chat_id = response.json()["_id"]
    copies: Counter[tuple[int, int]] = Counter()  # (seq, receiver index) -> times received
    received_at: dict[tuple[int, int], float] = {}
    sent_at: dict[int, float] = {}
    acks: Counter[str] = Counter()

    def handler_for(i: int) -> Any:
        def handle(event: str, data: Any) -> None:
            if event != "new-message" or not isinstance(data, dict) or data.get("chatId") != chat_id:
                return
            text = data.get("text", "")
            if text.startswith("g"):
                key = (int(text[1:]), i)
                copies[key] += 1
                received_at.setdefault(key, time.perf_counter())

        return handle

    log(f"{name}: connecting {len(members)} members of one group")
    sockets, failed, _ = connect_many(
        lambda i: server.url, members, len(members), args.connect_concurrency, on_event_for=handler_for
    )
    if failed or len(sockets) != len(members):
        raise RuntimeError(f"{name}: could not connect every member")
    sender = sockets[0]
    gevent.sleep(1)
    total = int(args.group_rate * args.duration)
    expected = total * len(others)
    run_tag = uuid.uuid4().hex[:8]

    def on_ack(ack: Any) -> None:
        acks["ok" if isinstance(ack, dict) and ack.get("ok") else "error"] += 1

    log(f"{name}: sending {total} messages at {args.group_rate}/s to {len(others)} receivers each")
    cpu = CpuMeter()
    server_cpu_start = [server.cpu()]
    started = time.perf_counter()
    for seq in range(total):
        due = started + seq / args.group_rate
        now = time.perf_counter()
        if due > now:
            gevent.sleep(due - now)
        sent_at[seq] = time.perf_counter()
        sender.emit(
            "new-message",
            {"chatId": chat_id, "text": f"g{seq}", "clientMessageId": f"{run_tag}-{seq}"},
            callback=on_ack,
        )
    deadline = time.monotonic() + args.drain
    # Until every copy is in (only receivers get copies), not 50 short: a run whose last copies took
    # longer than the settling time was reported as not exactly once.
    while len(copies) < expected and time.monotonic() < deadline:
        gevent.sleep(0.05)
    gevent.sleep(SETTLE_SECONDS)
    wall = time.perf_counter() - started
    server_cpu_seconds = server.cpu() - server_cpu_start[0]
    # the sender's own socket gets no copy of what it sent (its other devices would): count receivers only
    received = {k: v for k, v in copies.items() if k[1] != 0}
    latencies = [(received_at[k] - sent_at[k[0]]) * 1000 for k in received]
    delivered = len(received)
    duplicates = sum(1 for c in received.values() if c > 1)
    result = {
        "members": len(members),
        "offered_rate_per_s": args.group_rate,
        "sent": total,
        "acked_ok": acks["ok"],
        "copies_expected": expected,
        "copies_delivered": delivered,
        "duplicates": duplicates,
        "exactly_once": delivered == expected and duplicates == 0,
        "copies_per_s": round(delivered / wall, 1) if wall else 0.0,
        "latency_p50_ms": _round(percentile(latencies, 50)),
        "latency_p99_ms": _round(percentile(latencies, 99)),
        "latency_max_ms": _round(max(latencies) if latencies else None),
        "server_cpu_percent_of_one_core": round(100 * server_cpu_seconds / wall, 1) if wall else 0.0,
        "server_cpu_ms_per_copy": round(1000 * server_cpu_seconds / delivered, 3) if delivered else None,
        "client_cpu_percent_of_one_core": cpu.percent(),
    }
    log(f"{name}: {json.dumps(result)}")
    for s in sockets:
        s.close()
    gevent.sleep(0.5)
    return result


def _key(rate: float) -> str:
    return f"{rate:g}/s"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# --- runs -------------------------------------------------------------------------------------


# --- the database ------------------------------------------------------------------------------


def database_env(mongo_uri: str | None, database: str) -> dict[str, str]:
    """Server settings for one run: the embedded database, or a fresh database on a real MongoDB.

    Each run gets a database of its own, so collection sizes (and the bench's user emails) never
    carry over from an earlier run; `drop_databases` removes them afterwards.
    """
    if not mongo_uri:
        return {}
    from pymongo import uri_parser

    if uri_parser.parse_uri(mongo_uri).get("database"):
        raise SystemExit("--mongo-uri must not name a database: the benchmark creates and drops its own")
    return {"MONGO_URI": mongo_uri, "MONGO_DB_NAME": database}


def drop_databases(mongo_uri: str | None, names: list[str]) -> None:
    if not mongo_uri:
        return
    import pymongo

    with pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=10_000) as client:
        for name in names:
            client.drop_database(name)


def run_single(args: argparse.Namespace, workdir: Path, secret: str) -> dict[str, Any]:
    server = start_chatbox(
        workdir, secret, database_env(args.mongo_uri, args.database_prefix + "single"), name="chatbox"
    )
    try:
        log(f"chatbox: gunicorn pid {server.pid} at {server.url}")
        users = signup_users(server.url, max(args.users, 2 * args.pairs, args.group_members), "single")
        capacity = capacity_phase("chatbox capacity", server, users, args)
        delivery = {
            _key(rate): delivery_phase(
                f"chatbox delivery {rate}/s", server.url, server.url, users, [server], args, rate
            )
            for rate in args.rates
        }
        result = {"capacity": capacity, "delivery": delivery}
        if args.group_members > 1:
            result["group"] = group_phase(f"chatbox group of {args.group_members}", server, users, args)
        return result
    finally:
        server.stop()


def run_redis(args: argparse.Namespace, workdir: Path, secret: str) -> dict[str, Any]:
    redis_proc = start_redis(workdir)
    env = {"REDIS_URL": redis_proc.url, **database_env(args.mongo_uri, args.database_prefix + "redis")}
    app = "wsgi:app"
    if not args.mongo_uri:
        # Two processes cannot share the embedded database: both start with the same users instead.
        seed = workdir / "seed-users.json"
        emails = write_seed_file(seed, 2 * args.pairs)
        env["BENCH_SEED_FILE"] = str(seed)
        app = "bench.seeded_wsgi:app"
    procs: list[Proc] = []
    try:
        for i in (1, 2):
            procs.append(start_chatbox(workdir, secret, env, app=app, name=f"chatbox-redis-{i}"))
        log(f"chatbox + redis: processes {[p.pid for p in procs]}, redis pid {redis_proc.pid}")
        if args.mongo_uri:
            users = signup_users(procs[0].url, 2 * args.pairs, "redis")
        else:
            users = login_users(procs[0].url, emails)
        delivery = {
            _key(rate): delivery_phase(
                f"chatbox+redis delivery {rate}/s", procs[0].url, procs[1].url, users, [*procs, redis_proc], args, rate
            )
            for rate in args.rates
        }
        return {"processes": 2, "delivery": delivery}
    finally:
        for p in procs:
            p.stop()
        redis_proc.stop()


def run_node(args: argparse.Namespace, workdir: Path, secret: str) -> dict[str, Any] | None:
    problem = node_relay_ready()
    if problem:
        log(f"node relay skipped: {problem}")
        return {"skipped": problem}
    relay = start_node_relay(workdir, secret)
    try:
        log(f"node relay: pid {relay.pid} at {relay.url}")
        users = relay_tokens(secret, max(args.users, 2 * args.pairs))
        capacity = capacity_phase("node capacity", relay, users, args)
        delivery = {
            _key(rate): delivery_phase(f"node delivery {rate}/s", relay.url, relay.url, users, [relay], args, rate)
            for rate in args.rates
        }
        return {"capacity": capacity, "delivery": delivery}
    finally:
        relay.stop()


def ratios(ours: dict[str, Any], node: dict[str, Any] | None) -> dict[str, Any]:
    if not node or "skipped" in node:
        return {}

    def ratio(a: Any, b: Any) -> float | None:
        return round(a / b, 2) if isinstance(a, int | float) and isinstance(b, int | float) and b else None

    oc, nc = ours["capacity"], node["capacity"]
    result: dict[str, Any] = {"server_kib_per_socket": ratio(oc["server_kib_per_socket"], nc["server_kib_per_socket"])}
    for rate, od in ours["delivery"].items():
        nd = node["delivery"].get(rate)
        if nd is None:
            continue
        result[rate] = {
            "delivered_per_s": ratio(od["delivered_per_s"], nd["delivered_per_s"]),
            "latency_p50_ms": ratio(od["latency_p50_ms"], nd["latency_p50_ms"]),
            "latency_p99_ms": ratio(od["latency_p99_ms"], nd["latency_p99_ms"]),
            "server_cpu_percent": ratio(od["server_cpu_percent_of_one_core"], nd["server_cpu_percent_of_one_core"]),
            "server_cpu_per_delivered": ratio(od["server_cpu_ms_per_delivered"], nd["server_cpu_ms_per_delivered"]),
        }
    return result


def headline(report: dict[str, Any]) -> str:
    """The two ratios to the Node relay that the performance targets are stated in, on one line."""
    ratios_vs_node = report["ratios_vs_node"]
    ours, node = report["chatbox"], report["node_relay"]
    parts = [
        f"memory per socket: {ours['capacity']['server_kib_per_socket']} KiB vs node "
        f"{node['capacity']['server_kib_per_socket']} KiB = {ratios_vs_node['server_kib_per_socket']}x"
    ]
    for rate, d in ours["delivery"].items():
        nd = node["delivery"].get(rate)
        if nd is not None:
            parts.append(
                f"server CPU per delivered message at {rate}: {d['server_cpu_ms_per_delivered']} ms vs node "
                f"{nd['server_cpu_ms_per_delivered']} ms = {ratios_vs_node[rate]['server_cpu_per_delivered']}x"
            )
    return "\n".join(parts)


def table(report: dict[str, Any]) -> str:
    rows = [
        ("", "rate", "sockets held", "KiB/socket", "RSS MiB", "msg/s", "p50 ms", "p99 ms", "exactly once", "client CPU")
    ]

    def row(label: str, run: dict[str, Any] | None) -> None:
        if not run or "skipped" in run:
            rows.append((label, "", "skipped", "", "", "", "", "", "", ""))
            return
        c = run.get("capacity") or {}
        for rate, d in run["delivery"].items():
            if d["exactly_once"] is None:
                once = (
                    f"n/a: backlog at end ({d['not_acked_at_end']} unacked, "
                    f"{d['acked_not_received_at_end']} acked not yet received), {d['duplicates']} dup"
                )
            else:
                once = "yes" if d["exactly_once"] else f"NO ({d['missing_after_drain']} missing, {d['duplicates']} dup)"
            rows.append(
                (
                    label,
                    rate,
                    str(c.get("sockets_held_after_hold", "-")),
                    str(c.get("server_kib_per_socket", "-")),
                    str(c.get("server_rss_mib", d["server_rss_mib"])),
                    str(d["delivered_per_s"]),
                    str(d["latency_p50_ms"]),
                    str(d["latency_p99_ms"]),
                    once,
                    f"{d['client_cpu_percent_of_one_core']}%",
                )
            )

    row("chatbox (1 process)", report.get("chatbox"))
    row("chatbox + redis (2 proc)", report.get("chatbox_redis"))
    row("node socket.io relay", report.get("node_relay"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    group = (report.get("chatbox") or {}).get("group")
    if group:
        lines.append(
            f"group of {group['members']} at {group['offered_rate_per_s']:g} msg/s: "
            f"{group['copies_delivered']}/{group['copies_expected']} copies, p50 {group['latency_p50_ms']} ms, "
            f"p99 {group['latency_p99_ms']} ms, exactly once {'yes' if group['exactly_once'] else 'NO'}, "
            f"server CPU {group['server_cpu_ms_per_copy']} ms per copy"
        )
    ratios_vs_node = report.get("ratios_vs_node")
    if ratios_vs_node:
        lines.append("ours / node: " + json.dumps(ratios_vs_node))
        lines.append(headline(report))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=10000, help="sockets to connect and hold (capacity)")
    parser.add_argument("--users", type=int, default=200, help="users the sockets belong to")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds to hold the sockets")
    parser.add_argument("--pairs", type=int, default=100, help="sender/receiver pairs in the delivery phase")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(x) for x in text.split(",") if x],
        default=[50.0, 200.0, 1000.0],
        help="comma-separated send rates (messages per second), each measured in turn",
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of sending")
    parser.add_argument("--drain", type=float, default=20.0, help="seconds to wait for deliveries after sending")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--group-members", type=int, default=100, help="members of the group phase (0: skip it)")
    parser.add_argument("--group-rate", type=float, default=10.0, help="messages per second sent into the group")
    parser.add_argument("--skip-redis", action="store_true")
    parser.add_argument("--skip-node", action="store_true")
    parser.add_argument(
        "--mongo-uri",
        help="run ChatBox on this MongoDB (a URI without a database name) instead of the embedded database; "
        "each run creates its own databases and drops them at the end",
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    args = parser.parse_args(argv)
    args.database_prefix = f"chatbox_bench_{uuid.uuid4().hex[:8]}_"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    secret = "bench-" + uuid.uuid4().hex + uuid.uuid4().hex
    started = time.time()
    report: dict[str, Any] = {
        "command": "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "settings": vars(args),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    report["machine"]["database"] = "MongoDB (--mongo-uri)" if args.mongo_uri else "embedded (mongomock)"
    with tempfile.TemporaryDirectory(prefix="chatbox-bench-") as tmp:
        workdir = Path(tmp)
        try:
            report["chatbox"] = run_single(args, workdir, secret)
            if not args.skip_redis:
                report["chatbox_redis"] = run_redis(args, workdir, secret)
        finally:
            drop_databases(args.mongo_uri, [args.database_prefix + "single", args.database_prefix + "redis"])
        if not args.skip_node:
            report["node_relay"] = run_node(args, workdir, secret)
    report["ratios_vs_node"] = ratios(report["chatbox"], report.get("node_relay"))
    report["seconds"] = round(time.time() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print()
    print(table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
