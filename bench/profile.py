"""Profile ChatBox's hot path under the delivery load: `.venv/bin/python -m bench.profile`.

Starts the server as `bench.run` does, runs one delivery phase, and samples the gunicorn worker with
py-spy (`pip install py-spy`) meanwhile; prints where the samples fall, by whole-stack share
(a function counted once per sample it appears in) and by self share (the innermost frame).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from bench.run import delivery_phase, log, signup_users  # noqa: E402
from bench.servers import children, start_chatbox  # noqa: E402

SAMPLE_HZ = 200
# Frames from these packages are the embedded database (mongomock) or a driver for a real one:
# the part of a message's cost that a MongoDB deployment replaces.
DATABASE_PACKAGES = ("mongomock/", "pymongo/", "bson/")


def _frames(stack: str) -> list[str]:
    return [
        f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")" for f in stack.split(";")
    ]


def _table(title: str, counter: Counter[str], total: int, top: int) -> list[str]:
    return ["", title, *(f"{100 * n / total:6.1f}  {f}" for f, n in counter.most_common(top))]


def summarize(raw: Path, top: int, messages: int) -> str:
    """Shares of the samples, then the same for the samples with no database frame in their stack.

    Database time is split off because the embedded database's cost (it scans collections) says
    nothing about MongoDB's, while everything else is the same code on any deployment.
    """
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    outside_db: Counter[str] = Counter()
    total = db_samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = _frames(stack)
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        self_time[frames[-1]] += count
        if any(f"({package}" in stack or f"/{package}" in stack for package in DATABASE_PACKAGES):
            db_samples += count
        else:
            for frame in set(frames):
                outside_db[frame] += count
    other = total - db_samples
    per_message = 1000 / SAMPLE_HZ / max(messages, 1)
    lines = [
        f"{total} samples at {SAMPLE_HZ} Hz for {messages} messages: "
        f"{total * per_message:.2f} ms of server CPU a message",
        f"  in the database (stacks with mongomock/pymongo/bson frames): {db_samples} samples, "
        f"{db_samples * per_message:.2f} ms a message",
        f"  everything else: {other} samples, {other * per_message:.2f} ms a message",
    ]
    lines += _table("whole stack %  function (file)", inclusive, total, top)
    lines += _table("self %  function (file)", self_time, total, top)
    lines += _table("outside the database, whole stack % of those samples", outside_db, max(other, 1), top)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--drain", type=float, default=20.0)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", default="bench/results/profile.txt")
    parser.add_argument("--raw", help="also keep py-spy's raw samples in this file")
    args = parser.parse_args(argv)
    args.connect_concurrency = 50
    if shutil.which("py-spy") is None and not Path(sys.executable).with_name("py-spy").exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    secret = "bench-" + uuid.uuid4().hex + uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="chatbox-profile-") as tmp:
        workdir = Path(tmp)
        server = start_chatbox(workdir, secret)
        try:
            worker = children(server.pid)[0]
            users = signup_users(server.url, 2 * args.pairs, "profile")
            raw = workdir / "profile.raw"
            spy = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "-r",
                    str(SAMPLE_HZ),
                    "-o",
                    str(raw),
                    "-p",
                    str(worker),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            result = delivery_phase("profile delivery", server.url, server.url, users, [server], args, args.rate)
            spy.send_signal(subprocess.signal.SIGINT)
            spy.wait(timeout=30)
            report = summarize(raw, args.top, int(result["delivered"]) + args.pairs)
            if args.raw:
                shutil.copy(raw, args.raw)
        finally:
            server.stop()
    text = f"delivery: {result}\n\n{report}\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    log(f"profile written to {args.out}")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
