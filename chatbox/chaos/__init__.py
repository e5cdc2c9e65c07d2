"""The chaos kit: `python -m chatbox.chaos --url URL` checks that a ChatBox deployment delivers every
durable event exactly once and in order while sockets drop and servers restart (see docs/chaos.md)."""
