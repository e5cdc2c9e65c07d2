"""The AsyncAPI 3 document of the Socket.IO contract, built from `chatbox.realtime.catalog`.

The document describes the server: client → server events are operations it `receive`s (their ack is the
operation's `reply`), server → client events operations it `send`s. Its `components.schemas` are the
OpenAPI document's (OpenAPI 3.1 schemas are JSON Schema), so `#/components/schemas/Message` means the
same thing in both documents.
"""

from __future__ import annotations

import re
from copy import deepcopy
from typing import Any

from flask_smorest import Api

from chatbox.realtime.catalog import ClientEvent, SchemaLike, client_events, is_durable, server_events

CHANNEL = "chat"
# Durable events (kept in the user's event stream) are emitted with a second argument.
SEQ_ARGUMENT = {
    "type": "object",
    "description": "The event's place in my event stream; keep the last one to resume from (auth.since, sync)",
    "properties": {"seq": {"type": "integer", "minimum": 1}},
    "required": ["seq"],
    "additionalProperties": False,
}
ACK_FAILURE = {
    "type": "object",
    "description": "Any client event's ack when it is refused. `message` is a human sentence (on success the "
    "`new-message` ack's `message` is the stored message instead: branch on `ok`).",
    "properties": {
        "ok": {"const": False},
        "message": {"type": "string"},
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "details": {"description": "Per-field messages of a validation error"},
    },
    "required": ["ok", "message", "code"],
    "additionalProperties": False,
}


def _key(name: str, suffix: str = "") -> str:
    """`new-message` + `Ack` -> `newMessageAck` (AsyncAPI keys allow letters, digits, - and _)."""
    head, *rest = re.split(r"[^A-Za-z0-9]+", name)
    return head + "".join(part[:1].upper() + part[1:] for part in rest) + suffix


def _json_schema(api: Api, schema: SchemaLike) -> dict[str, Any]:
    if isinstance(schema, dict):
        return deepcopy(schema)
    return api.ma_plugin.converter.schema2jsonschema(schema)  # type: ignore[union-attr]


def _ack_schema(api: Api, event: ClientEvent) -> dict[str, Any]:
    success = _json_schema(api, event.ack)
    success.setdefault("type", "object")
    success["properties"] = {"ok": {"const": True}, **success.get("properties", {})}
    success["required"] = ["ok", *success.get("required", [])]
    return {"oneOf": [success, {"$ref": "#/components/schemas/AckFailure"}]}


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _reachable(root: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    prefix = "#/components/schemas/"
    kept: dict[str, Any] = {}
    pending = [ref.removeprefix(prefix) for ref in _refs(root) if ref.startswith(prefix)]
    while pending:
        name = pending.pop()
        if name in kept:
            continue
        kept[name] = schemas[name]
        pending += [ref.removeprefix(prefix) for ref in _refs(schemas[name]) if ref.startswith(prefix)]
    return dict(sorted(kept.items()))


def build_asyncapi(api: Api, config: dict[str, Any], host: str, secure: bool) -> dict[str, Any]:
    channel_ref = {"$ref": f"#/channels/{CHANNEL}"}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for event in client_events():
        key, ack_key = _key(event.name, "FromClient"), _key(event.name, "Ack")
        messages[key] = {
            "name": event.name,
            "title": f"{event.name} (client → server)",
            "summary": event.summary,
            "payload": _json_schema(api, event.payload),
            "x-area": event.area,
        }
        failures = sorted({*event.failures, "unknown_event"})
        messages[ack_key] = {
            "name": f"{event.name} ack",
            "title": f"ack of {event.name}",
            "summary": "`{ok: true, ...}`, or `{ok: false, message, code}` with code among: "
            f"{', '.join(failures)}, or one that any event may get (see AckFailure).",
            "payload": _ack_schema(api, event),
        }
        operations[_key("emit-" + event.name)] = {
            "action": "receive",
            "channel": channel_ref,
            "summary": event.summary,
            "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{key}"}],
            "reply": {"channel": channel_ref, "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{ack_key}"}]},
        }
    for server_event in server_events():
        key = _key(server_event.name, "FromServer")
        messages[key] = {
            "name": server_event.name,
            "title": f"{server_event.name} (server → client)",
            "summary": server_event.summary,
            "payload": _json_schema(api, server_event.payload),
            "x-area": server_event.area,
        }
        if is_durable(server_event.name):
            messages[key]["x-second-argument"] = SEQ_ARGUMENT
        operations[_key("on-" + server_event.name)] = {
            "action": "send",
            "channel": channel_ref,
            "summary": server_event.summary,
            "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{key}"}],
        }
    # After the conversions above, which add any schema they nest to the shared components; only the
    # schemas the events use (directly or through each other) are kept.
    shared = deepcopy(api.spec.to_dict().get("components", {}).get("schemas", {}))
    shared["AckFailure"] = ACK_FAILURE
    components = _reachable(messages, shared)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ChatBox Socket.IO events",
            "version": config["API_VERSION"],
            "description": "Socket.IO v4 on the default namespace `/`. Connect with `auth: {token}`; a refused "
            'connect is `connect_error` with message "Unauthorized". Every client event takes an ack callback. '
            "Events are Socket.IO event names (each message's `name`); see docs/reference/realtime.md.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "chatbox": {
                "host": host,
                "protocol": "wss" if secure else "ws",
                "pathname": "/socket.io/",
                "description": "Socket.IO (Engine.IO 4): websocket, or HTTP long-polling then upgrade",
                "security": [{"$ref": "#/components/securitySchemes/token"}],
            }
        },
        "channels": {
            CHANNEL: {
                "address": "/",
                "title": "The default Socket.IO namespace",
                "messages": messages,
            }
        },
        "operations": operations,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "token": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": "The JWT from signup or login, sent as the Socket.IO `auth: {token}` (or the "
                    "`Authorization: Bearer` header, the `jwt` cookie, or this query parameter).",
                }
            },
        },
    }
