"""Multipart uploads read as they stream in: the file part goes to a temp file, counted byte by byte,
so an upload over the limit is refused (413) the moment it crosses it and nothing of it is kept."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request


class UploadError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass
class ParsedUpload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    path: Path | None = None  # the file part on disk (the caller deletes it)
    size: int = 0


MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 16
BODY_ALLOWANCE = MAX_FIELD_BYTES * 4  # what the whole body may hold beyond the file: fields, part headers


async def read_upload(request: Request, file_field: str, max_bytes: int, tmp_dir: Path) -> ParsedUpload:
    """Parse a multipart/form-data request: text fields in memory (64 KiB each, 16 at most), one part
    named ``file_field`` streamed to a temp file under ``tmp_dir``. The whole body counts toward the
    limit (``max_bytes`` + 256 KiB for the fields), so no flood of small fields is read either.
    Raises UploadError (400/413/415/422); nothing of a refused upload stays on disk."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise UploadError(415, "the request must be multipart/form-data with a video in the 'file' field")
    declared = request.headers.get("content-length")
    body_limit = max_bytes + BODY_ALLOWANCE
    if declared and declared.isdigit() and int(declared) > body_limit:
        raise UploadError(413, f"upload of {int(declared)} bytes is over the limit of {max_bytes} bytes")
    out = ParsedUpload()
    state = {"name": None, "filename": None, "header": b"", "headers": {}, "buf": bytearray(), "fh": None, "over": False}
    tmp_dir.mkdir(parents=True, exist_ok=True)

    def on_header_field(data, start, end):
        state["header"] += data[start:end]

    def on_header_value(data, start, end):
        key = state["header"].lower()
        state["headers"][key] = state["headers"].get(key, b"") + data[start:end]

    def on_header_end():
        state["header"] = b""

    def on_headers_finished():
        _, p = parse_options_header(state["headers"].get(b"content-disposition", b""))
        state["name"] = p.get(b"name", b"").decode("utf-8", "replace")
        fn = p.get(b"filename")
        state["filename"] = fn.decode("utf-8", "replace") if fn is not None else None
        state["headers"] = {}
        if not state["name"]:
            raise UploadError(422, "a form part without a name: every part needs Content-Disposition: form-data; name=...")
        if state["name"] == file_field:
            if out.path is not None:
                raise UploadError(422, f"more than one {file_field!r} part: send one video per job")
            state["fh"] = tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="upload-", delete=False)
            out.path, out.filename = Path(state["fh"].name), state["filename"] or "video"

    def on_part_data(data, start, end):
        chunk = data[start:end]
        if state["name"] == file_field:
            out.size += len(chunk)
            if out.size > max_bytes:
                state["over"] = True
                return
            state["fh"].write(chunk)
        else:
            state["buf"] += chunk
            if len(state["buf"]) > MAX_FIELD_BYTES:
                raise UploadError(422, f"form field {state['name']!r} is over {MAX_FIELD_BYTES} bytes")

    def on_part_end():
        if state["name"] == file_field and state["fh"] is not None:
            state["fh"].close()
        else:
            if state["name"] in out.fields:
                raise UploadError(422, f"form field {state['name']!r} sent twice")
            if len(out.fields) >= MAX_FIELDS:
                raise UploadError(413, f"more than {MAX_FIELDS} form fields")
            out.fields[state["name"]] = state["buf"].decode("utf-8", "replace")
        state["buf"] = bytearray()

    parser = MultipartParser(params[b"boundary"], {
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data, "on_part_end": on_part_end})
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise UploadError(413, f"upload is over the limit of {max_bytes} bytes")
            parser.write(chunk)
            if state["over"]:
                raise UploadError(413, f"upload is over the limit of {max_bytes} bytes")
        parser.finalize()
    except UploadError:
        _discard(state, out)
        raise
    except Exception as exc:
        _discard(state, out)
        raise UploadError(400, f"malformed multipart body: {exc}") from None
    return out


def _discard(state, out: ParsedUpload) -> None:
    if state["fh"] is not None:
        state["fh"].close()
    if out.path is not None:
        out.path.unlink(missing_ok=True)
        out.path = None
