"""The websocket layer as deployed (the Procfile's gunicorn command, whose worker serves through our
gevent-websocket handler): message cap, close codes, frames unmasked and decoded correctly.
"""

from __future__ import annotations

import os
import random
import struct

from geventwebsocket.websocket import Header

from chatbox.realtime.websocket import unmask
from tests.support.live import LiveServer
from tests.support.raw_websocket import TEXT, RawWebSocket
from tests.support.sockets import LiveApi, Socket, wait_until

CAP = 64 * 1024  # MAX_JSON_BYTES's default, which the live server runs with


def test_unmask_matches_the_rfc_byte_by_byte_definition() -> None:
    rng = random.Random(7)
    for size in (0, 1, 3, 4, 5, 125, 126, 127, 65535, 65536, 70001):
        payload, mask = rng.randbytes(size), rng.randbytes(4)
        expected = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert unmask(payload, mask) == expected
        header = Header(length=size)
        header.mask = mask
        assert unmask(payload, mask) == bytes(header.unmask_payload(payload))


def test_a_message_over_the_cap_is_refused_from_its_header_alone(live_server: LiveServer) -> None:
    """No account needed to open a websocket: a frame header promising 100 MB must not make the
    server wait for (and buffer) 100 MB; it answers 1009 with only the header and a few bytes sent."""
    ws = RawWebSocket(live_server.url)
    try:
        assert ws.read_frame()[1].startswith(b"0{")  # Engine.IO's open packet
        ws.send_frame(TEXT, b"4" + b"x" * 100, declared_length=100 * 1024 * 1024)
        assert ws.close_code() == 1009
    finally:
        ws.close()


def test_a_client_that_sends_a_whole_oversized_message_still_reads_1009(live_server: LiveServer) -> None:
    """The server drops what the client is still sending after its close frame, so the close is not
    lost to a connection reset."""
    ws = RawWebSocket(live_server.url)
    try:
        ws.read_frame()
        ws.send_frame(TEXT, b"4" + b"x" * (2 * 1024 * 1024))
        assert ws.close_code() == 1009
    finally:
        ws.close()


def test_fragments_adding_up_past_the_cap_are_refused(live_server: LiveServer) -> None:
    ws = RawWebSocket(live_server.url)
    try:
        ws.read_frame()
        piece = b"x" * (CAP // 2 + 1)
        ws.sock.sendall(_unfinished_frame(TEXT, b"4" + piece))
        ws.sock.sendall(_unfinished_frame(0x0, piece))
        assert ws.close_code() == 1009
    finally:
        ws.close()


def _unfinished_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    return bytes([opcode, 0x80 | 126]) + struct.pack("!H", len(payload)) + mask + unmask(payload, mask)


def test_invalid_utf8_text_is_closed_with_1007(live_server: LiveServer) -> None:
    ws = RawWebSocket(live_server.url)
    try:
        ws.read_frame()
        ws.send_frame(TEXT, b'42["typing",{"to":"\xff"}]')
        assert ws.close_code() == 1007
    finally:
        ws.close()


def test_a_long_non_ascii_message_arrives_intact(live_server: LiveServer) -> None:
    """The longest text a message may have, in characters that python-socketio sends as escapes
    (about 60 KB on the wire, just under the cap), through unmasking and decoding."""
    live = LiveApi(live_server.url)
    alice, bob = live.signup("Long Alice"), live.signup("Long Bob")
    text = ("é🙂ß漢" * 1250)[:5000]
    alice_socket, bob_socket = Socket(live_server.url, alice), Socket(live_server.url, bob)
    try:
        ack = alice_socket.call("new-message", {"to": bob.id, "text": text})
        assert ack["ok"] is True and ack["message"]["text"] == text
        assert bob_socket.wait_for("new-message")[0]["text"] == text
    finally:
        alice_socket.close()
        bob_socket.close()


def test_an_oversized_event_from_a_signed_in_client_ends_only_that_connection(live_server: LiveServer) -> None:
    live = LiveApi(live_server.url)
    alice, bob = live.signup("Big Alice"), live.signup("Big Bob")
    live.send(alice, bob, "we share a chat")
    alice_socket, bob_socket = Socket(live_server.url, alice), Socket(live_server.url, bob)
    try:
        alice_socket.client.emit("new-message", {"to": bob.id, "text": "x" * (CAP + 1)})
        wait_until(lambda: not alice_socket.client.connected, "the oversized sender to be disconnected")
        assert bob_socket.client.connected
        assert bob_socket.call("typing", {"to": alice.id})["ok"] is True
    finally:
        alice_socket.close()
        bob_socket.close()
