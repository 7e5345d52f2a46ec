"""What an upload must be before a job is made of it: a complete video, and options that parse."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import HTTPException
from pydantic import ValidationError

from nvwa.errors import InputError
from nvwa.service.jobs import JobOptions

MAX_OPTIONS_DEPTH = 8  # options are a flat object with one list; anything deeper is refused before parsing


def probe_upload(path: Path, filename: str) -> None:
    """422 unless the upload is a video with at least one decodable frame and frames up to its end."""
    from nvwa.video import check_complete, iter_frames

    try:
        frames = iter_frames(path, max_side=64)
        next(frames)
        frames.close()
        check_complete(path)
    except InputError as exc:
        raise HTTPException(422, f"{filename}: {exc.problem}") from None
    except StopIteration:
        raise HTTPException(422, f"{filename}: no decodable video frame") from None


def json_depth_ok(text: str, limit: int) -> bool:
    """Whether brackets nest at most ``limit`` deep (checked before json.loads, which recurses)."""
    depth, in_str, esc = 0, False, False
    for ch in text:
        if in_str:
            esc, in_str = (False, True) if esc else (ch == "\\", ch != '"')
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_options(text: str | None, extra: dict | None = None) -> JobOptions:
    if text and not json_depth_ok(text, MAX_OPTIONS_DEPTH):
        raise HTTPException(422, f"options: nested deeper than {MAX_OPTIONS_DEPTH} levels")
    try:
        raw = json.loads(text) if text else {}
        if not isinstance(raw, dict):
            raise ValueError("options must be a JSON object")
        return JobOptions(**{**raw, **(extra or {})})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "options"
        raise HTTPException(422, f"option {where}: {first['msg']}") from None
    except ValueError as exc:
        raise HTTPException(422, f"options: not valid JSON ({exc})") from None


__all__ = ["probe_upload", "parse_options", "json_depth_ok", "MAX_OPTIONS_DEPTH"]
