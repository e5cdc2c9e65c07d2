"""Loaded as a pytest plugin (`-p tests.gevent_patch` in pytest.ini) before any other plugin imports
the network stack, so that gevent patches the standard library first, as wsgi.py does for the server."""

from gevent import monkey

monkey.patch_all()
