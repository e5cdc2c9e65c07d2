"""`flask --app wsgi create-indexes`, `flask --app wsgi users activate|deactivate|block|unblock EMAIL`
and `flask --app wsgi files migrate-to-gridfs`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from chatbox.auth.service import set_account_flag
from chatbox.db import create_indexes
from chatbox.errors import ApiError
from chatbox.files.service import move_disk_files_to_gridfs
from chatbox.runtime import runtime

_ACTIONS = {
    "activate": ("is_active", True),
    "deactivate": ("is_active", False),
    "block": ("is_blocked", True),
    "unblock": ("is_blocked", False),
}


def register_cli(app: Flask) -> None:
    @app.cli.command("create-indexes")
    def create_indexes_command() -> None:
        """Create every collection's indexes (idempotent)."""
        for name in create_indexes(app.config["EVENT_RETENTION_DAYS"]):
            click.echo(f"indexes ready: {name}")

    users = AppGroup("users", help="Administer accounts.")

    for action, (field, value) in _ACTIONS.items():

        def command(email: str, field: str = field, value: bool = value, action: str = action) -> None:
            try:
                user = set_account_flag(email, field, value)
            except ApiError as exc:
                raise click.ClickException(exc.message) from exc
            click.echo(f"{action}: {user.email} (isActive={user.is_active}, isBlocked={user.is_blocked})")

        users.command(action, help=f"{action.capitalize()} the account with this EMAIL.")(
            click.argument("email")(command)
        )

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
