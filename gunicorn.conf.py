"""Gunicorn settings for ChatBox: one gevent-websocket worker per process, tuned for many open sockets."""

import os
import resource

worker_class = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"
workers = 1  # Socket.IO needs sticky sessions; scale out with more processes behind a load balancer
bind = f"0.0.0.0:{os.environ.get('PORT', '3000')}"
# gevent's default of 1000 makes the 1001st connection (and plain HTTP requests) hang silently.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "20000"))
# Websockets live for hours; the worker heartbeat, not the request, is what `timeout` watches.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 75
accesslog = os.environ.get("ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def on_starting(server: object) -> None:
    _raise_file_limit()


def post_fork(server: object, worker: object) -> None:
    _raise_file_limit()
