"""Entry point for gunicorn and `flask --app wsgi`: gevent patches the standard library first of all."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from chatbox import create_app  # noqa: E402
from config import ConfigError, refusal_line  # noqa: E402

# A gunicorn worker that exits with this code makes gunicorn stop instead of starting another.
WORKER_BOOT_ERROR = 3

try:
    app = create_app()
except ConfigError as error:
    # One line naming the variable, not a traceback (here, under gunicorn, and for `flask --app wsgi`).
    print(refusal_line(error), file=sys.stderr, flush=True)
    raise SystemExit(WORKER_BOOT_ERROR) from None

if __name__ == "__main__":
    # Development server on the embedded database by default: the same server and handler as the
    # gunicorn worker (Flask-SocketIO's own `run` would use plain gevent-websocket).
    import signal

    import gevent

    from chatbox.realtime.serving import ChatBoxHandler, ChatBoxServer

    host, port = app.config["HOST"], app.config["PORT"]
    server = ChatBoxServer((host, port), app, handler_class=ChatBoxHandler)
    # Ctrl-C (or a TERM) stops the server and ends the process normally: no traceback, exit status 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, server.stop)
    print(f"ChatBox on http://{host}:{port} (Ctrl-C stops it)", flush=True)
    server.serve_forever()
    print("ChatBox stopped.", flush=True)
