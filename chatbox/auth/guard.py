"""The `auth_required` decorator: every authenticated REST call goes through it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException, NoAuthorizationError
from jwt.exceptions import ExpiredSignatureError, PyJWTError

from chatbox.auth.tokens import unauthorized, user_from_claims
from chatbox.models import User

F = TypeVar("F", bound=Callable[..., Any])


def auth_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            verify_jwt_in_request()
        except NoAuthorizationError as exc:
            raise unauthorized() from exc
        except ExpiredSignatureError as exc:
            raise unauthorized("Your session has expired.", "token_expired") from exc
        except (PyJWTError, JWTExtendedException, ValueError) as exc:
            raise unauthorized("The token is not valid.", "invalid_token") from exc
        g.current_user = user_from_claims(get_jwt())
        return view(*args, **kwargs)

    return cast(F, wrapper)


def current_user() -> User:
    return cast(User, g.current_user)
