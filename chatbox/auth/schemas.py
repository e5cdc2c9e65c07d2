from __future__ import annotations

import marshmallow as ma

from chatbox.api import BaseSchema, object_id, timestamp
from config import FULL_NAME_MAX, PASSWORD_MIN

BCRYPT_MAX_BYTES = 72


def _password_fits_bcrypt(value: str) -> None:
    if len(value.encode("utf-8")) > BCRYPT_MAX_BYTES:
        raise ma.ValidationError(f"Must be at most {BCRYPT_MAX_BYTES} bytes.")


def _full_name_not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


# No control characters (C0, DEL, C1) in a name other people see.
FULL_NAME_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
FULL_NAME = {
    "validate": [
        ma.validate.Length(min=1, max=FULL_NAME_MAX),
        _full_name_not_blank,
        ma.validate.Regexp("^[^\\x00-\\x1f\\x7f-\\x9f]*$", error="Must not contain control characters."),
    ],
    "metadata": {"pattern": FULL_NAME_PATTERN},
}
NEW_PASSWORD = {"validate": [ma.validate.Length(min=PASSWORD_MIN), _password_fits_bcrypt]}


class SignupSchema(BaseSchema):
    fullName = ma.fields.String(required=True, **FULL_NAME)
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    password = ma.fields.String(required=True, **NEW_PASSWORD)


class LoginSchema(BaseSchema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(max=254))
    password = ma.fields.String(required=True, validate=ma.validate.Length(max=1024))


class LogoutSchema(BaseSchema):
    fcmToken = ma.fields.String(validate=ma.validate.Length(min=1, max=4096))


class ChangePasswordSchema(BaseSchema):
    currentPassword = ma.fields.String(required=True, validate=ma.validate.Length(max=1024))
    newPassword = ma.fields.String(required=True, **NEW_PASSWORD)


class ProfileJsonSchema(BaseSchema):
    fullName = ma.fields.String(**FULL_NAME)
    profilePic = ma.fields.String(metadata={"description": "data:image/png;base64,... or data:image/jpeg;base64,..."})


class ProfileFormSchema(BaseSchema):
    fullName = ma.fields.String(**FULL_NAME)


class ProfileFilesSchema(BaseSchema):
    profilePic = ma.fields.Raw(metadata={"type": "string", "format": "binary"})


class ProfileMultipartSchema(ProfileFormSchema, ProfileFilesSchema):
    """Documentation only: the multipart form of update-profile (a JPG or PNG file and/or a name)."""


class PublicUserSchema(ma.Schema):
    _id = object_id(required=True)
    fullName = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    profilePic = ma.fields.String(required=True, metadata={"description": 'A URL, or "" without a picture'})
    lastSeen = timestamp(allow_none=True, required=True)
    isOnline = ma.fields.Boolean(required=True)
    createdAt = timestamp(required=True)


class OwnUserSchema(PublicUserSchema):
    isAdmin = ma.fields.Boolean(required=True, metadata={"description": "May use the administration API"})


class AuthUserSchema(OwnUserSchema):
    token = ma.fields.String(required=True)


class TokenSchema(ma.Schema):
    token = ma.fields.String(required=True)


class OkSchema(ma.Schema):
    message = ma.fields.String(required=True)
