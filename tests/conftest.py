"""Shared fixtures. gevent has patched the standard library already: pytest loads
tests/gevent_patch.py first (`-p tests.gevent_patch` in pytest.ini), as wsgi.py does for the server."""

import gc
import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("CHATBOX_ENV", "testing")
# Apps that tests create and never stop would sweep expired events in the middle of other tests (and of
# their round-trip counts): the sweep is tested on its own (tests/test_event_stream.py).
os.environ.setdefault("EVENT_SWEEP_SECONDS", "0")

from tests.support.api import ApiClient
from tests.support.database import empty_database
from tests.support.live import LiveServer, start_live_server


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported and built (the app's modules, the libraries, every test item) lives until
    the run ends. Frozen, the garbage collector's full passes skip it: they are frequent in this suite,
    which allocates a lot (mongomock copies every document it returns), and each scanned all of it
    (about 15 % of a worker's CPU)."""
    gc.collect()
    gc.freeze()


@pytest.fixture
def storage_backend() -> str:
    """The storage backend of the `app` fixture; the files and messages suites run on both."""
    return "gridfs"


@pytest.fixture
def app(tmp_path: Any, storage_backend: str) -> Iterator[Any]:
    from chatbox import create_app

    # Before too: whichever tests ran earlier in this process (the suite's workers take files in any
    # order), this one starts on an empty database.
    empty_database()
    application = create_app(
        {
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "RATELIMIT_ENABLED": False,
            "CHATBOX_ENV": "testing",
            "STORAGE_BACKEND": storage_backend,
        }
    )
    yield application
    # Its background work (the session sweep, the event stream's check) ends with the test.
    application.extensions["chatbox"].stop()
    empty_database()


@pytest.fixture
def api(app: Any) -> ApiClient:
    return ApiClient(app.test_client(use_cookies=False))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: Any) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("live-uploads"))
    yield server
    server.stop()
