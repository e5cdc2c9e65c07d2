"""CPU of the send action alone, in process: `.venv/bin/python -m bench.send_profile`.

Builds one app on the embedded database, signs users up over the test client, makes the chat (a direct
chat by a first message, or a group of `--group-members`), then calls the send action `--sends` times
(`send_message(rt, SendRequest(me, to=…))`, or `chat_id=` for the group) under py-spy, and splits the
samples as `bench.profile` does: in the database (a mongomock/pymongo/bson frame in the stack), outside
it, and of that the share with a MongoEngine frame. No sockets and no other greenlets: steadier than the
served profile, and the figure the send's hot path is tuned against (docs/benchmarks.md).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from bench.profile import DATABASE_PACKAGES, _frames  # noqa: E402


def split(raw: Path, hz: int, sends: int, top: int) -> tuple[str, dict[str, float]]:
    """ms a send: total, in the database, outside it, MongoEngine outside it; and the top frames outside."""
    total = db = mongoengine = 0
    outside: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or "send_message" not in stack:
            continue  # py-spy's own start-up and the setup before the timed loop
        count = int(count_text)
        total += count
        if any(f"({package}" in stack or f"/{package}" in stack for package in DATABASE_PACKAGES):
            db += count
            continue
        if "mongoengine/" in stack:
            mongoengine += count
        for frame in set(_frames(stack)):
            outside[frame] += count
    per_send = 1000 / hz / max(sends, 1)
    other = total - db
    figures = {
        "total_ms": total * per_send,
        "database_ms": db * per_send,
        "outside_ms": other * per_send,
        "mongoengine_ms": mongoengine * per_send,
    }
    lines = [
        f"{total} samples at {hz} Hz over {sends} sends: {figures['total_ms']:.3f} ms a send",
        f"  in the database: {figures['database_ms']:.3f} ms",
        f"  outside the database: {figures['outside_ms']:.3f} ms, of which MongoEngine "
        f"{figures['mongoengine_ms']:.3f} ms ({100 * mongoengine / max(other, 1):.1f} %)",
        "",
        "outside the database, whole stack % of those samples",
        *(f"{100 * n / max(other, 1):6.1f}  {f}" for f, n in outside.most_common(top)),
    ]
    return "\n".join(lines), figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.send_profile")
    parser.add_argument("--sends", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=500, help="py-spy's samples a second")
    parser.add_argument("--group-members", type=int, default=0, help="send into a group of this many instead")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--raw", help="also keep py-spy's raw samples in this file")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2

    from chatbox import create_app
    from chatbox.messages.actions.send import SendRequest, send_message
    from chatbox.models import User
    from chatbox.runtime import runtime

    app = create_app(
        {"CHATBOX_ENV": "testing", "RATELIMIT_ENABLED": False, "JWT_SECRET_KEY": "send-" + uuid.uuid4().hex * 2}
    )
    http = app.test_client()
    ids = []
    for n in range(max(2, args.group_members)):
        body = {"fullName": f"User {n}", "email": f"u{n}-{uuid.uuid4().hex}@example.com", "password": "x" * 12}
        answer = http.post("/api/auth/signup", json=body).get_json()
        ids.append((answer["_id"], answer["token"]))
    (me_id, my_token), (other_id, _) = ids[0], ids[1]
    with app.app_context():
        rt = runtime()
        me = User.objects.get(id=me_id)
        if args.group_members:
            headers = {"Authorization": f"Bearer {my_token}"}
            group = http.post(
                "/api/chats", json={"name": "Bench group", "memberIds": [i for i, _ in ids[1:]]}, headers=headers
            ).get_json()
            request = lambda: SendRequest(me, chat_id=group["_id"], text="hello")  # noqa: E731
        else:
            request = lambda: SendRequest(me, to=other_id, text="hello")  # noqa: E731
        send_message(rt, request())  # the chat's first message: creates a direct chat, warms the caches
        with tempfile.TemporaryDirectory(prefix="chatbox-send-profile-") as tmp:
            raw = Path(tmp) / "send.raw"
            spy = subprocess.Popen(
                [py_spy, "record", "--format", "raw", "-r", str(args.rate), "-o", str(raw), "-p", str(os.getpid())],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.5)  # py-spy attached
            started = time.process_time()
            for _ in range(args.sends):
                send_message(rt, request())
            cpu = time.process_time() - started
            spy.send_signal(subprocess.signal.SIGINT)
            spy.wait(timeout=30)
            report, figures = split(raw, args.rate, args.sends, args.top)
            if args.raw:
                shutil.copy(raw, args.raw)
    load = os.getloadavg()[0]
    print(f"process CPU {1000 * cpu / args.sends:.3f} ms a send (sampled, so slowed by py-spy); load {load:.2f}")
    print(report)
    print(
        "SUMMARY outside={outside_ms:.3f} mongoengine={mongoengine_ms:.3f} database={database_ms:.3f} "
        "total={total_ms:.3f}".format(**figures)
        + f" load={load:.2f}"
    )
    rt.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
