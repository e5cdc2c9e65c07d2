"""A lean Socket.IO v5 / Engine.IO v4 client over one websocket, for holding thousands of sockets.

It speaks the real protocol (the same packets a browser's socket.io-client sends over the websocket
transport): the Engine.IO open packet, pings answered with pongs, a Socket.IO CONNECT with an auth
payload, EVENT packets with acknowledgement ids and ACK packets back. One greenlet reads each socket;
nothing else is kept per socket but the websocket and a dict of pending acknowledgements.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

import gevent
import websocket

EventHandler = Callable[[str, Any], None]


class ConnectRefused(Exception):
    pass


class LeanSocket:
    __slots__ = ("_acks", "_ids", "_reader", "connected", "on_event", "sid", "ws")

    def __init__(self, base_url: str, auth: dict[str, Any], on_event: EventHandler | None = None, timeout: float = 30):
        self.on_event = on_event
        self._acks: dict[int, Callable[[Any], None]] = {}
        self._ids = itertools.count(1)
        url = base_url.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(
            url, timeout=timeout, enable_multithread=True, skip_utf8_validation=True, suppress_origin=False
        )
        opened = self.ws.recv()
        if not opened.startswith("0"):
            raise ConnectionError(f"expected an Engine.IO open packet, got {opened[:80]!r}")
        self.ws.send("40" + json.dumps(auth, separators=(",", ":")))
        while True:
            packet = self.ws.recv()
            if packet == "2":
                self.ws.send("3")
                continue
            if packet.startswith("40"):
                self.sid = json.loads(packet[2:]).get("sid")
                break
            if packet.startswith("44"):
                self.ws.close()
                raise ConnectRefused(packet[2:])
            if packet.startswith("42") and self.on_event is not None:
                # An event sent right after the CONNECT packet may overtake nothing, but be safe.
                self._dispatch(packet)
        self.ws.settimeout(None)
        self.connected = True
        self._reader = gevent.spawn(self._read_loop)

    def emit(self, event: str, data: Any, callback: Callable[[Any], None] | None = None) -> None:
        if callback is None:
            self.ws.send("42" + json.dumps([event, data], separators=(",", ":")))
            return
        ack_id = next(self._ids)
        self._acks[ack_id] = callback
        self.ws.send(f"42{ack_id}" + json.dumps([event, data], separators=(",", ":")))

    def _dispatch(self, packet: str) -> None:
        body = packet[2:]
        start = body.find("[")
        if start > 0:  # an event that asks for an ack: this client never needs to answer one
            body = body[start:]
        payload = json.loads(body)
        if self.on_event is not None:
            self.on_event(payload[0], payload[1] if len(payload) > 1 else None)

    def _read_loop(self) -> None:
        try:
            while True:
                packet = self.ws.recv()
                if not packet:
                    break
                kind = packet[0]
                if kind == "2":
                    self.ws.send("3")
                elif kind == "4":
                    if packet.startswith("42"):
                        self._dispatch(packet)
                    elif packet.startswith("43"):
                        body = packet[2:]
                        start = body.find("[")
                        callback = self._acks.pop(int(body[:start]), None)
                        if callback is not None:
                            args = json.loads(body[start:])
                            callback(args[0] if args else None)
                    elif packet.startswith("41"):
                        break
                elif kind == "1":
                    break
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.connected = False

    def close(self) -> None:
        if self.connected:
            with contextlib.suppress(websocket.WebSocketException, OSError):
                self.ws.send("41")
        self.connected = False
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self.ws.close(timeout=1)
        self._reader.kill(block=False)
