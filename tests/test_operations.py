"""Starting and stopping ChatBox as its users do: `make run` with .env, production refusals under gunicorn,
the system packages `make test` installs, and the README's configuration table."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from chatbox.processes import free_port, procfile_command
from tests.support.live import ROOT, stop_gunicorn

STRONG_SECRET = "s" * 40
# These start servers (gunicorn, `make run`).
pytestmark = pytest.mark.slow


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited early"
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not come up")


def test_make_run_takes_host_and_port_from_dot_env_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    # A checkout of its own (the real Makefile, wsgi.py and config.py; the package linked), with a .env.
    for name in ("Makefile", "wsgi.py", "config.py"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    for name in ("chatbox", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name)
    port = free_port()
    (tmp_path / ".env").write_text(f"PORT={port}\nHOST=127.0.0.1\nCHATBOX_ENV=development\n")
    env = {k: v for k, v in os.environ.items() if k not in {"PORT", "HOST", "CHATBOX_ENV", "MONGO_URI"}}
    # `-o install`: the shared virtualenv is already installed; what is tested is the `run` recipe.
    make = subprocess.Popen(
        ["make", "-o", "install", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", make)
    finally:
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        output = make.communicate(timeout=30)[0].decode()
    assert f"ChatBox on http://127.0.0.1:{port}" in output
    assert "ChatBox stopped." in output, output
    for noise in ("Traceback", "KeyboardInterrupt", "Error 130", "Error 1"):
        assert noise not in output, output


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        ({"CHATBOX_ENV": "production", "JWT_SECRET": STRONG_SECRET}, "MONGO_URI"),
        ({"CHATBOX_ENV": "production", "MONGO_URI": "mongodb://127.0.0.1:9/x"}, "JWT_SECRET"),
        ({"CHATBOX_ENV": "production", "MONGO_URI": "mongodb://127.0.0.1:9/x", "JWT_SECRET": "secret"}, "JWT_SECRET"),
        ({"CHATBOX_ENV": "staging"}, "CHATBOX_ENV"),
        ({"MAX_UPLOAD_MB": "lots"}, "MAX_UPLOAD_MB"),
        ({"FIREBASE_CREDENTIALS": "/nonexistent/firebase.json"}, "FIREBASE_CREDENTIALS"),
    ],
)
def test_a_refused_setting_stops_gunicorn_with_one_line_naming_it(
    settings: dict[str, str], variable: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URI", "JWT_SECRET", "CHATBOX_ENV", "PORT"}}
    env.update({"CHATBOX_ENV": "development", "UPLOAD_DIR": str(tmp_path), **settings})
    proc = subprocess.run(
        procfile_command(f"127.0.0.1:{free_port()}"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    refusals = [line for line in output.splitlines() if line.startswith("ChatBox cannot start: ")]
    assert len(refusals) == 1 and variable in refusals[0], output
    assert "Traceback" not in output, output


def test_wsgi_py_refuses_production_on_the_in_memory_database() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URI", "PORT"}}
    env.update({"CHATBOX_ENV": "production", "JWT_SECRET": STRONG_SECRET})
    proc = subprocess.run(
        [sys.executable, "wsgi.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("ChatBox cannot start: MONGO_URI must be set")
    assert "Traceback" not in proc.stderr


def _system_packages(tmp_path: Path, uid: int, with_apt: bool) -> tuple[subprocess.CompletedProcess[str], str]:
    """tools/system-packages on a PATH that has none of the packages (only fake `id` and `apt-get`)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "apt.log"
    (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    if with_apt:
        (fake / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    for script in fake.iterdir():
        script.chmod(0o755)
    proc = subprocess.run(
        ["/bin/bash", str(ROOT / "tools" / "system-packages")],
        env={"PATH": str(fake), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc, log.read_text() if log.exists() else ""


def _expected_missing() -> list[str]:
    return ["redis-server", *([] if Path("/usr/sbin/nginx").exists() else ["nginx"]), "chromium", "nodejs", "npm"]


def test_system_packages_are_installed_when_root_with_apt_get(tmp_path: Path) -> None:
    proc, apt = _system_packages(tmp_path, uid=0, with_apt=True)
    assert proc.returncode == 0, proc.stderr
    assert apt.splitlines() == ["update -qq", "install -y -qq " + " ".join(_expected_missing())]


@pytest.mark.parametrize(("uid", "with_apt"), [(1000, True), (0, False)])
def test_otherwise_the_one_install_command_is_printed_and_make_test_stops(
    tmp_path: Path, uid: int, with_apt: bool
) -> None:
    proc, apt = _system_packages(tmp_path, uid=uid, with_apt=with_apt)
    assert proc.returncode == 1 and apt == ""
    assert f"sudo apt-get install -y {' '.join(_expected_missing())}" in proc.stderr


def test_make_test_checks_the_system_packages_first_and_ci_just_calls_it() -> None:
    # (Under `make test` itself the outer make's flags would change what a nested make prints.)
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "test"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert dry_run.splitlines()[0].endswith("tools/system-packages")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get" not in ci and ci.strip().endswith("make test")


def _variables_read(source: str) -> set[str]:
    pattern = (
        r"""(?:environ|os\.environ)(?:\.get)?\(\s*["']([A-Z][A-Z0-9_]*)["']|_int\(\s*environ,\s*["']([A-Z0-9_]+)["']"""
    )
    found = {a or b for a, b in re.findall(pattern, source)}
    found |= set(re.findall(r"""environ\[["']([A-Z][A-Z0-9_]*)["']\]""", source))
    return found


def test_every_variable_config_reads_is_in_the_readme_table_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {m[0]: m[1] for m in re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|.*\| (.+) \|$", table, re.MULTILINE)}
    read = set()
    for name in ("config.py", "gunicorn.conf.py", "wsgi.py"):
        read |= _variables_read((ROOT / name).read_text())
    assert {"CHATBOX_ENV", "PORT", "HOST", "MONGO_URI", "BCRYPT_LOG_ROUNDS", "WORKER_CONNECTIONS"} <= read
    missing = sorted(read - set(rows))
    assert not missing, f"add these to the README's configuration table: {missing}"
    for variable, default in rows.items():
        assert default.strip(), f"{variable} has no default in the README"


def test_the_production_recipe_serves_the_web_client_without_node_modules(tmp_path: Path) -> None:
    """A checkout without node_modules (what `pip install -r requirements.txt` gives), started with the
    Procfile's command: the page and its Socket.IO client bundle are served."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    for name in ("wsgi.py", "config.py", "gunicorn.conf.py", "Procfile"):
        (app_dir / name).write_bytes((ROOT / name).read_bytes())
    shutil.copytree(ROOT / "chatbox", app_dir / "chatbox", ignore=shutil.ignore_patterns("__pycache__"))
    assert not (app_dir / "node_modules").exists()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URI", "PORT", "PYTHONPATH"}}
    env.update({"CHATBOX_ENV": "development", "UPLOAD_DIR": str(tmp_path / "uploads"), "JWT_SECRET": STRONG_SECRET})
    server = subprocess.Popen(
        procfile_command(f"127.0.0.1:{port}"),
        cwd=app_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, server)
        page = requests.get(f"{url}/", timeout=10)
        assert page.status_code == 200 and "/web/vendor/socket.io.min.js" in page.text
        bundle = requests.get(f"{url}/web/vendor/socket.io.min.js", timeout=10)
        assert bundle.status_code == 200 and bundle.content.startswith(b"/*!\n * Socket.IO v4")
        assert requests.get(f"{url}/api/docs/assets/swagger-ui-bundle.js", timeout=10).status_code == 200
    finally:
        stop_gunicorn(server)
