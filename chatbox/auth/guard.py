"""The `auth_required` decorator: every authenticated REST call goes through it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from chatbox.auth.tokens import token_errors, user_from_claims
from chatbox.models import User

F = TypeVar("F", bound=Callable[..., Any])


def auth_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with token_errors():
            verify_jwt_in_request()
        g.current_user = user_from_claims(get_jwt())
        return view(*args, **kwargs)

    return cast(F, wrapper)


def current_user() -> User:
    return cast(User, g.current_user)
