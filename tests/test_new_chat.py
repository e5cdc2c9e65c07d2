"""`new-chat` shows the chat as of its first stored message, also when one send stores several."""

from __future__ import annotations

import io
from typing import Any

from tests.support.files import image_bytes
from tests.support.live import LiveServer
from tests.support.sockets import LiveApi, Socket


def test_a_first_send_of_several_images_announces_the_chat_as_of_the_first_image(live_server: LiveServer) -> None:
    live = LiveApi(live_server.url)
    alice, bob = live.signup("Alice"), live.signup("Bob")
    alice_laptop, bob_phone = Socket(live_server.url, alice), Socket(live_server.url, bob)
    try:
        images: list[Any] = [("images", (f"{n}.png", io.BytesIO(image_bytes("PNG")), "image/png")) for n in range(3)]
        response = live.call("POST", f"/api/messages/send/{bob.id}", alice, files=images, data={"text": "three"})
        assert response.status_code == 201, response.text
        sent = response.json()
        assert [m["text"] for m in sent] == ["three", "", ""]
        for socket, unread in ((bob_phone, 1), (alice_laptop, 0)):
            chat = socket.wait_for("new-chat")[0]
            assert chat["lastMessage"]["_id"] == sent[0]["_id"], "the chat as of its first stored message"
            assert chat["unreadCount"] == unread
        # The chat list, read afterwards, shows the whole send.
        listed = live.call("GET", "/api/messages/chats", bob).json()[0]
        assert listed["lastMessage"]["_id"] == sent[-1]["_id"] and listed["unreadCount"] == 3
    finally:
        alice_laptop.close()
        bob_phone.close()
