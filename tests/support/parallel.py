"""`make test`'s pytest run: several pytest processes that share the suite out file by file.

Most of the suite waits on real clocks (servers starting, sockets, browsers) rather than computing, so a
few more processes than cores keep both cores busy. (pytest-xdist, tried before, stopped with gevent's
LoopExit in this gevent-patched suite; this runner starts plain pytest processes and needs no package.)

How the work is shared: every worker collects the whole suite (the same items in the same order) and
runs it as a queue of units, heaviest first by the seconds in durations.json (a unit missing from it
counts as DEFAULT_SECONDS). A unit is a test file, so that its module fixtures are set up once, as in a
plain `pytest` run; a file heavier than SPLIT_SECONDS whose tests share no module-scoped fixture is split
into one unit per test, so that no single file holds up the end of the run. A worker takes the next
unit nobody has taken yet by creating its claim file (O_EXCL: exactly one worker succeeds), so a worker
that finishes early takes more.

The runner then checks that every collected test ran in exactly one worker, prints each worker's output
one after the other, and fails if any worker failed or any test was not run. It also writes the
seconds each unit took to test-artifacts/durations.json (copy it over durations.json to refresh the
order), and the CPU seconds each took (its worker's, and that of the servers and browsers it started and
saw end) to test-artifacts/cpu.json, heaviest first: where the suite's time goes.
Usage: `python -m tests.support.parallel [--workers N] [pytest arguments...]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DURATIONS = Path(__file__).with_name("durations.json")
ARTIFACTS = ROOT / "test-artifacts"
PYCACHE = ARTIFACTS / "pycache"
DEFAULT_SECONDS = 2.0  # a file
DEFAULT_TEST_SECONDS = 0.5  # a test of a file split per test
SPLIT_SECONDS = 10.0
# Set by the runner for its workers: the shared claims directory and this worker's number.
CLAIMS_ENV = "CHATBOX_TEST_CLAIMS"
WORKER_ENV = "CHATBOX_TEST_WORKER"
DEFAULT_WORKERS = 4


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def load_durations() -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads(DURATIONS.read_text()).items()}
    except FileNotFoundError:
        return {}


def _shares_module_fixtures(item: Any) -> bool:
    definitions = getattr(item, "_fixtureinfo", None)
    if definitions is None:
        return True
    scopes = {defs[-1].scope for defs in definitions.name2fixturedefs.values() if defs}
    return bool(scopes & {"package", "module", "class"})


def units_of(items: list[Any], seconds: dict[str, float]) -> list[tuple[str, list[Any]]]:
    """The queue: (name, items) heaviest first; ties in collection order."""
    by_file: dict[str, list[Any]] = {}
    for item in items:
        by_file.setdefault(file_of(item.nodeid), []).append(item)
    units: list[tuple[str, list[Any], float]] = []
    for name, file_items in by_file.items():
        per_test = [seconds.get(item.nodeid, DEFAULT_TEST_SECONDS) for item in file_items]
        weight = seconds.get(name, sum(per_test) if any(i.nodeid in seconds for i in file_items) else DEFAULT_SECONDS)
        if weight > SPLIT_SECONDS and len(file_items) > 1 and not any(map(_shares_module_fixtures, file_items)):
            units.extend((item.nodeid, [item], s) for item, s in zip(file_items, per_test, strict=True))
        else:
            units.append((name, file_items, weight))
    units.sort(key=lambda unit: -unit[2])
    return [(name, unit_items) for name, unit_items, _weight in units]


# --- the worker side: a pytest plugin, active only when the runner set CLAIMS_ENV -----------------------


def _claim(claims: Path, index: int) -> bool:
    try:
        os.close(os.open(claims / f"{index}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _claimed(claims: Path, units: list[tuple[str, list[Any]]]) -> Iterator[tuple[str, list[Any]]]:
    for index, unit in enumerate(units):
        if _claim(claims, index):
            yield unit


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    claims_dir = os.environ.get(CLAIMS_ENV)
    if not claims_dir or session.config.option.collectonly or session.testsfailed:
        return None  # pytest's own loop (which also reports collection errors)
    claims = Path(claims_dir)
    ran: list[str] = []
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    mine = _claimed(claims, units_of(session.items, load_durations()))
    current = next(mine, None)
    while current is not None:
        name, items = current
        following = None
        started, cpu_started = time.monotonic(), _cpu_of_process()
        for i, item in enumerate(items):
            if i + 1 < len(items):
                nextitem = items[i + 1]
            else:
                # Claimed before the unit's last test runs: pytest tears fixtures down by what the next
                # item needs.
                following = next(mine, None)
                nextitem = following[1][0] if following else None
            ran.append(item.nodeid)
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            if session.shouldfail:
                raise session.Failed(session.shouldfail)
            if session.shouldstop:
                raise session.Interrupted(session.shouldstop)
        seconds[name] = round(time.monotonic() - started, 2)
        cpu[name] = round(_cpu_of_process() - cpu_started, 2)
        current = following
    report = {"collected": [item.nodeid for item in session.items], "ran": ran, "seconds": seconds, "cpu": cpu}
    (claims / f"worker-{os.environ.get(WORKER_ENV, '0')}.json").write_text(json.dumps(report))
    return True


def _cpu_of_process() -> float:
    """This process's CPU and that of the children it has waited for (the servers a test started and
    stopped; the browsers once their session ends)."""
    usage = os.times()
    return usage.user + usage.system + usage.children_user + usage.children_system


# --- the runner side ------------------------------------------------------------------------------------


def _cpu_of_children() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def _bytecode_cached(environ: Mapping[str, str]) -> dict[str, str]:
    """The workers' environment, which their servers and subprocesses inherit: compiled bytecode is kept
    under test-artifacts/pycache, even where PYTHONDONTWRITEBYTECODE is set (which keeps it out of the
    source tree: so does this). Without it, each of the suite's ~40 Python processes compiled the project
    again, and each worker rewrote the assertions of every pytest plugin's modules (about 3 s a worker)."""
    env = {name: value for name, value in environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def run(workers: int, pytest_args: list[str]) -> int:
    ARTIFACTS.mkdir(exist_ok=True)
    claims = Path(tempfile.mkdtemp(prefix="chatbox-test-claims-"))
    print(f"pytest in {workers} workers; their output follows when all are done (test-artifacts/tests-worker-N.log)")
    sys.stdout.flush()
    started = time.monotonic()
    processes = []
    try:
        for n in range(1, workers + 1):
            log_path = ARTIFACTS / f"tests-worker-{n}.log"
            env = {**_bytecode_cached(os.environ), CLAIMS_ENV: str(claims), WORKER_ENV: str(n)}
            command = [sys.executable, "-m", "pytest", "-q", "-p", "tests.support.parallel", *pytest_args]
            log = open(log_path, "wb")  # noqa: SIM115 - the child writes it until it exits
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            processes.append((n, process, log, log_path))
        statuses = {}
        for n, process, log, _path in processes:
            statuses[n] = process.wait()
            log.close()
        wall = time.monotonic() - started
        problems = _check_reports(claims, workers, statuses)
    finally:
        shutil.rmtree(claims, ignore_errors=True)
    for n, _process, _log, path in processes:
        print(f"===== worker {n} (exit {statuses[n]}): {path.relative_to(ROOT)} =====", flush=True)
        sys.stdout.write(path.read_text(errors="replace"))
    print(f"===== {workers} workers: {wall:.0f} s wall, {_cpu_of_children():.0f} s CPU (user+sys) =====")
    for problem in problems:
        print(f"FAILED: {problem}")
    failed = [n for n, status in statuses.items() if status != 0]
    if failed:
        print(f"FAILED: worker(s) {', '.join(map(str, failed))} (see their output above)")
    return 1 if failed or problems else 0


def _check_reports(claims: Path, workers: int, statuses: dict[int, int]) -> list[str]:
    """Every collected test ran in exactly one worker (a worker that died takes its files with it)."""
    reports = []
    for n in range(1, workers + 1):
        path = claims / f"worker-{n}.json"
        if path.exists():
            reports.append(json.loads(path.read_text()))
        elif statuses[n] == 0:
            return [f"worker {n} exited without its report"]
    if len(reports) < workers:
        return []  # a worker failed before running anything (a collection error): its output says why
    collected = reports[0]["collected"]
    if any(r["collected"] != collected for r in reports):
        return ["the workers collected different tests"]
    ran = [nodeid for r in reports for nodeid in r["ran"]]
    problems = []
    missing = set(collected) - set(ran)
    if missing:
        problems.append(f"{len(missing)} test(s) ran nowhere, e.g. {sorted(missing)[:3]}")
    if len(ran) != len(set(ran)):
        problems.append("some tests ran in more than one worker")
    seconds = {f: s for r in reports for f, s in r["seconds"].items()}
    (ARTIFACTS / "durations.json").write_text(json.dumps(dict(sorted(seconds.items())), indent=1) + "\n")
    cpu = {f: s for r in reports for f, s in r["cpu"].items()}
    (ARTIFACTS / "cpu.json").write_text(json.dumps(dict(sorted(cpu.items(), key=lambda kv: -kv[1])), indent=1) + "\n")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=int(os.environ.get("TEST_WORKERS", DEFAULT_WORKERS)))
    args, pytest_args = parser.parse_known_args()
    sys.exit(run(max(1, args.workers), pytest_args))


if __name__ == "__main__":
    main()
