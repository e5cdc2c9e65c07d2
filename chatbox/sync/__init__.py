"""Catching up on the per-user event stream: GET /api/sync, the socket `sync` event and resuming sockets."""
