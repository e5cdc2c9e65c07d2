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


def summarize(raw: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")" for f in stack.split(";")
        ]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        self_time[frames[-1]] += count
    lines = [f"{total} samples", "", "whole stack %  function (file)"]
    lines += [f"{100 * n / total:6.1f}  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "self %  function (file)"]
    lines += [f"{100 * n / total:6.1f}  {f}" for f, n in self_time.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--drain", type=float, default=20.0)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", default="bench/results/profile.txt")
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
                [py_spy, "record", "--nonblocking", "--format", "raw", "-r", "200", "-o", str(raw), "-p", str(worker)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            result = delivery_phase("profile delivery", server.url, server.url, users, [server], args, args.rate)
            spy.send_signal(subprocess.signal.SIGINT)
            spy.wait(timeout=30)
            report = summarize(raw, args.top)
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
