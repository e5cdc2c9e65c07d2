from __future__ import annotations

from flask import Response, send_file

from chatbox.api import Blueprint
from chatbox.auth.guard import auth_required, current_user
from chatbox.files.service import readable_file
from chatbox.runtime import runtime

blp = Blueprint("files", __name__, url_prefix="/api/files", description="Uploaded files")


@blp.route("/<file_id>")
@blp.doc(security=[{"bearerAuth": []}], responses={"200": {"description": "The file's bytes"}})
@blp.alt_response(403, description="Not the uploader nor a participant of the file's chat")
@blp.alt_response(404, description="No such file")
@auth_required
def get_file(file_id: str) -> Response:
    record, path = readable_file(runtime().storage, current_user(), file_id)
    inline = record.kind == "image"
    return send_file(
        path,
        mimetype=record.mime_type,
        as_attachment=not inline,
        download_name=record.name,
        max_age=3600,
        conditional=True,
    )
