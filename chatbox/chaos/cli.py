"""The kit's command line (run as `python -m chatbox.chaos`, which patches gevent in first).

Exit status: 0 when every check passed, 1 on any loss, duplicate, disorder or unacknowledged delivery,
2 when the deployment could not be driven at all.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from collections.abc import Callable


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chatbox.chaos",
        description="Simulated users exchange messages and receipts while their sockets drop and a server "
        "restarts; then every user's events and messages are checked. Needs requirements-dev.txt.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", action="append", help="a server's base URL (repeat for several processes)")
    target.add_argument(
        "--local", action="store_true", help="two in-process nodes + redis-server on the embedded database"
    )
    parser.add_argument("--users", type=int, default=6, help="simulated users (default 6; sign-up allows 10/min)")
    parser.add_argument("--messages", type=int, default=25, help="messages each user sends (default 25)")
    parser.add_argument("--drop-every", type=float, default=0.25, help="mean seconds between socket drops")
    parser.add_argument(
        "--restart-command",
        help="a shell command that kills and restarts one server process, run once mid-run (remote mode)",
    )
    parser.add_argument("--no-restart", action="store_true", help="local mode: do not restart a node")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds the sends may take in all")
    parser.add_argument("--settle", type=float, default=30, help="seconds to let every user catch up at the end")
    parser.add_argument("--seed", type=int, help="random seed, to repeat a run's choices")
    parser.add_argument("--verbose", action="store_true", help="local mode: show the servers' warnings and errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.verbose else logging.CRITICAL, format="%(levelname)s %(name)s: %(message)s"
    )
    os.environ.setdefault("CHATBOX_ENV", "testing")
    from chatbox.chaos.kit import Kit, KitError, Settings

    pair = None
    restart: Callable[[], None] | None = None
    if args.local:
        from chatbox.chaos.local import LocalPair

        pair = LocalPair()
        urls = pair.urls
        if not args.no_restart:
            restart = pair.restart
    else:
        urls = [u.rstrip("/") for u in args.url]
        if args.restart_command:
            command = args.restart_command

            def restart() -> None:
                subprocess.run(command, shell=True, check=False)  # the operator's own command

    settings = Settings(
        urls=urls,
        users=args.users,
        messages=args.messages,
        drop_every=args.drop_every,
        restart=restart,
        settle_seconds=args.settle,
        time_limit=args.time_limit,
        seed=args.seed,
    )
    try:
        report = Kit(settings).run()
    except KitError as exc:
        print(f"chaos kit: {exc}", file=sys.stderr)
        return 2
    finally:
        if pair is not None:
            pair.stop()
    print(report.table())
    return 0 if report.ok else 1
