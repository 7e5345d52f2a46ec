"""HTTP range answers (206/416) for stored files, local or S3: what a browser needs to seek a video."""

from __future__ import annotations

import re

from fastapi.responses import Response, StreamingResponse


def ranged_response(storage, key: str, size: int, media_type: str, name: str, range_header: str | None):
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": f'attachment; filename="{name}"'}
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", (range_header or "").strip())
    if not m or (not m.group(1) and not m.group(2)):
        return StreamingResponse(storage.open_range(key, 0, size - 1) if size else iter([b""]), media_type=media_type,
                                 headers={**headers, "Content-Length": str(size)})
    if m.group(1):
        start, end = int(m.group(1)), int(m.group(2)) if m.group(2) else size - 1
    else:
        start, end = max(0, size - int(m.group(2))), size - 1
    end = min(end, size - 1)
    if start > end or start >= size:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    return StreamingResponse(storage.open_range(key, start, end), status_code=206, media_type=media_type,
                             headers={**headers, "Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(end - start + 1)})


__all__ = ["ranged_response"]
