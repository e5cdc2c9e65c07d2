"""Entry point for gunicorn and `flask --app wsgi`: gevent patches the standard library first of all."""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402

from chatbox import create_app  # noqa: E402

app = create_app()

if __name__ == "__main__":
    # Development server on the embedded database by default: the same server and handler as the
    # gunicorn worker (Flask-SocketIO's own `run` would use plain gevent-websocket).
    from chatbox.realtime.serving import ChatBoxHandler, ChatBoxServer

    host, port = os.environ.get("HOST", "127.0.0.1"), app.config["PORT"]
    print(f"ChatBox on http://{host}:{port}", flush=True)
    ChatBoxServer((host, port), app, handler_class=ChatBoxHandler).serve_forever()
