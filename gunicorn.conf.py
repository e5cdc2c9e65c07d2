"""Gunicorn settings for ChatBox: one gevent-websocket worker per process, tuned for many open sockets.

Scale out with several such processes behind a load balancer with sticky sessions (docs/deployment.md),
never with `workers > 1` inside one process: Socket.IO's handshake must reach the process holding the session.
"""

import logging
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from config import ConfigError, build_config, refusal_line

# Refuse a bad environment before anything starts: one line naming the variable, no traceback, exit 1.
# (Its warnings are left to the worker, which builds the configuration again and logs them once.)
logging.getLogger("chatbox.config").disabled = True
try:
    _settings = build_config()
except ConfigError as _error:
    print(refusal_line(_error), file=sys.stderr, flush=True)
    sys.exit(1)
finally:
    logging.getLogger("chatbox.config").disabled = False

# gevent-websocket's GeventWebSocketWorker, serving through ChatBox's server and handler: the websocket
# message cap, the per-address connection cap, the header deadline, JSON early errors, masked logs
# (chatbox/realtime/serving.py). `on_starting` refuses any other worker class.
worker_class = "chatbox.realtime.serving.ChatBoxWorker"
workers = 1
# HOST and PORT from the environment or .env (`make serve`); the Procfile passes its own --bind.
bind = f"{_settings['HOST']}:{_settings['PORT']}"
# gevent's default of 1000 makes the 1001st connection (and plain HTTP requests) hang silently.
# Each socket needs a file descriptor, so the real ceiling is also the fd limit raised below.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "20000"))
# Pending connections the kernel queues while the worker is busy (reconnect storms after a deploy);
# the kernel caps it at net.core.somaxconn.
backlog = int(os.environ.get("GUNICORN_BACKLOG", "4096"))
# For the gevent worker `timeout` watches the worker's heartbeat, not requests: a websocket may stay open
# for hours. A worker whose event loop is blocked this long is restarted.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# On SIGTERM, wait this long for requests to finish; open websockets are then closed and clients reconnect.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 75  # seconds; above the usual 60 s idle timeout of load balancers in front
accesslog = os.environ.get("ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


# gevent keeps, for every greenlet it spawns, a reference to the spawning greenlet and a copy of the
# spawning stack (10 frames), for debugging output only (gevent.util.print_run_info). Each open socket
# holds three greenlets for its whole life; not recording this saves about 4 KiB of RSS per socket
# (bench/run.py). Set GEVENT_TRACK_GREENLET_TREE=true to get the spawn tree back when debugging.
os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def on_starting(server: object) -> None:
    _refuse_unprotected_worker(server)
    _raise_file_limit()


def _refuse_unprotected_worker(server: object) -> None:
    """`-k geventwebsocket.gunicorn.workers.GeventWebSocketWorker` on the command line would replace
    ChatBox's worker and silently drop its limits: stop with one line saying what to use instead."""
    from chatbox.realtime.serving import ChatBoxWorker

    chosen = getattr(getattr(server, "cfg", None), "worker_class", None)
    if not (isinstance(chosen, type) and issubclass(chosen, ChatBoxWorker)):
        name = getattr(chosen, "__qualname__", chosen)
        raise SystemExit(f"ChatBox needs -k chatbox.realtime.serving.ChatBoxWorker (its limits live there), not {name}")


def post_fork(server: object, worker: object) -> None:
    _raise_file_limit()


def _heartbeat_of(worker: object) -> object | None:
    app = getattr(worker, "wsgi", None)
    return getattr(app, "extensions", {}).get("chatbox.heartbeat") if app is not None else None


def post_worker_init(worker: object) -> None:
    _unregister_presence_on_stop(worker)


def _unregister_presence_on_stop(worker: object) -> None:
    """On SIGTERM, drop this process's presence at once, so other processes mark its users offline now
    rather than when its Redis entries expire. (With sockets open, the master kills the worker at the end
    of the graceful timeout, before `worker_exit` could run, so watch for the stop from the start.)"""
    heartbeat = _heartbeat_of(worker)
    if heartbeat is None:
        return
    import gevent

    def unregister_when_stopping() -> None:
        while getattr(worker, "alive", False):
            gevent.sleep(0.5)
        heartbeat.stop(unregister=True)  # type: ignore[attr-defined]

    gevent.spawn(unregister_when_stopping)


def worker_exit(server: object, worker: object) -> None:
    heartbeat = _heartbeat_of(worker)
    if heartbeat is not None:
        heartbeat.stop(unregister=True)  # type: ignore[attr-defined]
    app = getattr(worker, "wsgi", None)
    runtime = getattr(app, "extensions", {}).get("chatbox") if app is not None else None
    if runtime is not None:
        runtime.stop()  # the app's background work: sweeps, the event stream's check and bus
