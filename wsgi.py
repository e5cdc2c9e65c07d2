"""Entry point for gunicorn and `flask --app wsgi`: gevent patches the standard library first of all."""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402

from chatbox import create_app, socketio_of  # noqa: E402

app = create_app()

if __name__ == "__main__":
    # Development server (gevent + gevent-websocket) on the embedded database by default.
    socketio_of(app).run(app, host=os.environ.get("HOST", "127.0.0.1"), port=app.config["PORT"])
