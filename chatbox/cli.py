"""`flask --app wsgi create-indexes`, `flask --app wsgi users ACTION EMAIL`,
`flask --app wsgi files migrate-to-gridfs` and `flask --app wsgi migrate-chats`.

The account actions are the administration API's (chatbox/admin/actions.py). They reach the database
named by MONGO_URI; a server on the embedded in-memory database is administered through the API.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from chatbox.admin import actions
from chatbox.db import create_indexes
from chatbox.errors import ApiError
from chatbox.files.actions import move_disk_files_to_gridfs
from chatbox.migrations import BATCH, migrate_chats
from chatbox.runtime import runtime

_ACTIONS = {
    "activate": (actions.activate, "Switch the account with this EMAIL on again."),
    "deactivate": (actions.deactivate, "Switch the account with this EMAIL off."),
    "block": (actions.block, "Block the account with this EMAIL."),
    "unblock": (actions.unblock, "Lift the block of the account with this EMAIL."),
    "revoke-sessions": (actions.revoke_sessions, "End every session (token) of the account with this EMAIL."),
    "make-admin": (actions.make_admin, "Let the account with this EMAIL use the administration API."),
    "revoke-admin": (actions.revoke_admin, "Take the administration API away from the account with this EMAIL."),
}


def register_cli(app: Flask) -> None:
    @app.cli.command("create-indexes")
    def create_indexes_command() -> None:
        """Create every collection's indexes (idempotent)."""
        for name in create_indexes(app.config["EVENT_RETENTION_DAYS"]):
            click.echo(f"indexes ready: {name}")

    @app.cli.command("migrate-chats")
    @click.option("--batch", default=BATCH, show_default=True, help="Documents per update.")
    def migrate_chats_command(batch: int) -> None:
        """Give Part 1 chats `kind: "direct"` and messages `system: null` (idempotent, live-safe)."""
        report = migrate_chats(batch)
        click.echo(f"chats: {report.chats_seen} seen, {report.chats_updated} updated")
        click.echo(f"messages: {report.messages_seen} seen, {report.messages_updated} updated")

    users = AppGroup("users", help="Administer accounts.")

    for name, (action, help_text) in _ACTIONS.items():

        def command(email: str, name: str = name, action: actions.AccountChange = action) -> None:
            try:
                # No runtime for the action: the command line holds no sockets to drop. Every server
                # forgets the account (announced on Redis) and judges its sockets' next event on the
                # change; their sweeps drop its silent sockets within SESSION_SWEEP_SECONDS.
                user = action(None, actions.account_by_email(email), None)
                runtime().sessions.user_changed(str(user.id))
            except ApiError as exc:
                raise click.ClickException(exc.message) from exc
            flags = f"isActive={user.is_active}, isBlocked={user.is_blocked}, isAdmin={user.is_admin}"
            click.echo(f"{name}: {user.email} ({flags})")

        users.command(name, help=help_text)(click.argument("email")(command))

    app.cli.add_command(users)

    files = AppGroup("files", help="Uploaded files.")

    @files.command("migrate-to-gridfs")
    def migrate_to_gridfs_command() -> None:
        """Move the files stored under UPLOAD_DIR into GridFS (safe to run again)."""
        report = move_disk_files_to_gridfs(runtime().storage)
        click.echo(f"moved to GridFS: {report.moved} file(s)")
        if report.missing:
            click.echo(f"missing on disk, left as they are: {len(report.missing)} ({', '.join(report.missing)})")

    app.cli.add_command(files)
