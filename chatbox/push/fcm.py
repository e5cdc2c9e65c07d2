"""Firebase Cloud Messaging through firebase-admin.

One named Firebase app per credentials file, created at startup: a missing or broken file stops the
server with a `ConfigError` instead of failing on the first message. Message building is a pure
function (`build_multicast`) so its fields can be checked on the real `firebase_admin.messaging` objects.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from collections.abc import Iterator

import firebase_admin
from firebase_admin import credentials, exceptions, messaging

from chatbox.push.notification import Notification
from config import ConfigError

log = logging.getLogger("chatbox.push")

# firebase-admin refuses a multicast message with more than 500 targets.
MULTICAST_LIMIT = 500
# The Android channel our notifications are posted to; an app that has not created it gets FCM's
# fallback channel, so the notification still shows.
ANDROID_CHANNEL_ID = "messages"
_APP_NAME_PREFIX = "chatbox-"

_apps_lock = threading.Lock()


def firebase_app_for(credentials_path: str) -> firebase_admin.App:
    """The Firebase app for this service-account file, initialised once per file and process."""
    path = os.path.realpath(credentials_path)
    name = _APP_NAME_PREFIX + hashlib.sha256(path.encode()).hexdigest()[:16]
    with _apps_lock:
        try:
            return firebase_admin.get_app(name)
        except ValueError:
            pass  # not initialised yet
        try:
            certificate = credentials.Certificate(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"FIREBASE_CREDENTIALS={credentials_path!r} is not a usable Firebase service-account JSON file: {exc}"
            ) from exc
        if not certificate.project_id:
            raise ConfigError(f"FIREBASE_CREDENTIALS={credentials_path!r} has no project_id")
        return firebase_admin.initialize_app(certificate, name=name)


def build_multicast(tokens: list[str], notification: Notification) -> messaging.MulticastMessage:
    """One FCM multicast message (at most MULTICAST_LIMIT tokens) that shows on a locked phone."""
    if not tokens or len(tokens) > MULTICAST_LIMIT:
        raise ValueError(f"a multicast message takes 1 to {MULTICAST_LIMIT} tokens, got {len(tokens)}")
    collapse_key = notification.collapse_key
    android = messaging.AndroidConfig(
        priority="high",  # delivered at once, waking a dozing device
        collapse_key=collapse_key,
        notification=messaging.AndroidNotification(
            channel_id=ANDROID_CHANNEL_ID,
            sound="default",
            tag=collapse_key,  # a newer message of the same chat replaces the shown notification
            priority="high",
            default_vibrate_timings=True,
            visibility="private",  # shown on the lock screen, content hidden on a secure one
        ),
    )
    apns = messaging.APNSConfig(
        headers={"apns-priority": "10", "apns-push-type": "alert", "apns-collapse-id": collapse_key},
        payload=messaging.APNSPayload(
            aps=messaging.Aps(
                alert=messaging.ApsAlert(title=notification.title, body=notification.body),
                sound="default",
                thread_id=collapse_key,
            )
        ),
    )
    webpush = messaging.WebpushConfig(
        headers={"Urgency": "high"},
        notification=messaging.WebpushNotification(tag=collapse_key),
    )
    # The clients register FCM registration tokens (getToken()); firebase-admin 7.7 marks the `tokens`
    # target deprecated in favour of Firebase installation ids, but registration tokens are still what
    # FCM accepts from those clients, so the warning is silenced here rather than spread to every send.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.MulticastMessage(
            tokens=list(tokens),
            notification=messaging.Notification(title=notification.title, body=notification.body),
            data=dict(notification.data),
            android=android,
            apns=apns,
            webpush=webpush,
        )


def is_dead_token_error(error: BaseException | None) -> bool:
    """Does this per-token FCM error mean the token will never work again for this project?"""
    if isinstance(error, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return True
    # INVALID_ARGUMENT also covers bad payloads; only a complaint about the token itself condemns it.
    return isinstance(error, exceptions.InvalidArgumentError) and "registration token" in str(error).lower()


def _batches(tokens: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(tokens), size):
        yield tokens[start : start + size]


class FcmSender:
    """Sends through firebase-admin's `send_each_for_multicast`, 500 tokens per call."""

    def __init__(self, app: firebase_admin.App) -> None:
        self.app = app
        self.description = f"FCM via firebase-admin (project {app.project_id})"

    @classmethod
    def from_credentials_file(cls, path: str) -> FcmSender:
        return cls(firebase_app_for(path))

    def send(self, tokens: list[str], notification: Notification) -> set[str]:
        dead: set[str] = set()
        for batch in _batches(tokens, MULTICAST_LIMIT):
            try:
                response = messaging.send_each_for_multicast(build_multicast(batch, notification), app=self.app)
            except (exceptions.FirebaseError, ValueError):
                log.exception("FCM send to %d device(s) failed", len(batch))
                continue
            for token, result in zip(batch, response.responses, strict=True):
                if result.exception is None:
                    continue
                if is_dead_token_error(result.exception):
                    dead.add(token)
                else:
                    log.warning("FCM could not deliver to a device: %s", result.exception)
        if dead:
            log.info("FCM reported %d device token(s) as no longer valid", len(dead))
        return dead
