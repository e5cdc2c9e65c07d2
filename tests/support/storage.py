"""What the storage backends hold, counted from outside the app: GridFS files and chunks, files on disk."""

from __future__ import annotations

import os
from typing import Any

from mongoengine.connection import get_db

NOTHING = {"gridfsFiles": 0, "gridfsChunks": 0, "diskFiles": 0}


def stored_counts(app: Any) -> dict[str, int]:
    db = get_db()
    upload_dir = app.config["UPLOAD_DIR"]
    disk = os.listdir(upload_dir) if os.path.isdir(upload_dir) else []
    return {
        "gridfsFiles": db["fs.files"].count_documents({}),
        "gridfsChunks": db["fs.chunks"].count_documents({}),
        "diskFiles": len(disk),
    }


def blob_names(app: Any) -> list[str]:
    """The names blobs are stored under in the app's backend (generated, never the client's)."""
    if app.config["STORAGE_BACKEND"] == "gridfs":
        return sorted(row["filename"] for row in get_db()["fs.files"].find({}, {"filename": 1}))
    upload_dir = app.config["UPLOAD_DIR"]
    return sorted(os.listdir(upload_dir)) if os.path.isdir(upload_dir) else []
