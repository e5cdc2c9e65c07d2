"""The deployed app (`wsgi:app`) plus users seeded from BENCH_SEED_FILE, for the two-process benchmark.

The embedded database (mongomock) lives inside one process, so two processes cannot share it the way
real nodes share MongoDB. For the run through Redis, both processes start with the same user documents
(same ids and password hash); each message is then stored by the sender's process and reaches the
receiver's process only through the Redis queue, which is the path being measured.
"""

from gevent import monkey

monkey.patch_all()  # first of all, as wsgi.py does

import json  # noqa: E402
import os  # noqa: E402

from bson import ObjectId  # noqa: E402

from chatbox.models import User  # noqa: E402
from wsgi import app  # noqa: E402


def _seed(path: str) -> int:
    with open(path) as f:
        users = json.load(f)
    for user in users:
        User(
            id=ObjectId(user["id"]),
            full_name=user["fullName"],
            email=user["email"],
            password_hash=user["passwordHash"],
        ).save(force_insert=True)
    return len(users)


if os.environ.get("BENCH_SEED_FILE"):
    _seed(os.environ["BENCH_SEED_FILE"])

__all__ = ["app"]
