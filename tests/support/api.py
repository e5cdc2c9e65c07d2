"""A thin HTTP helper over Flask's test client (or a real server) that remembers a user's token."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

_counter = itertools.count(1)

PASSWORD = "correct horse battery"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}@example.com"


@dataclass
class User:
    id: str
    email: str
    token: str
    full_name: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class ApiClient:
    def __init__(self, client: Any) -> None:
        self.client = client

    def signup(self, name: str = "User", email: str | None = None, password: str = PASSWORD) -> User:
        email = email or unique_email(name.lower().replace(" ", ""))
        response = self.client.post("/api/auth/signup", json={"fullName": name, "email": email, "password": password})
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        return User(body["_id"], body["email"], body["token"], body["fullName"], body)

    def request(self, method: str, path: str, user: User | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        if user is not None:
            headers.update(user.headers)
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, user: User | None = None, **kwargs: Any) -> Any:
        return self.request("GET", path, user, **kwargs)

    def post(self, path: str, user: User | None = None, **kwargs: Any) -> Any:
        return self.request("POST", path, user, **kwargs)

    def put(self, path: str, user: User | None = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, user, **kwargs)

    def patch(self, path: str, user: User | None = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, user, **kwargs)

    def delete(self, path: str, user: User | None = None, **kwargs: Any) -> Any:
        return self.request("DELETE", path, user, **kwargs)

    def send(self, sender: User, receiver: User, text: str, **extra: Any) -> Any:
        return self.post(f"/api/messages/send/{receiver.id}", sender, json={"text": text, **extra})
