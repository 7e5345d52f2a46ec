"""Exporters, one per format, all fed from the same world-space Scene and registered by name.

==========  ===========================  ==================================================
name        writes (inside OUT_DIR)      for
==========  ===========================  ==================================================
``glb``     ``scene.glb``                the replay viewer, three.js, WebXR, Blender, Unity
``bvh``     ``bvh/person_<id>.bvh``,     retargeting tools (cm, Y up, SMPL joint names)
            ``bvh/everyone.bvh``
``ply``     ``ply/person_<id>/frame_*``  mesh sequences (one binary PLY per frame)
``npz``     ``scene.npz`` + ``scene.json``  the scene itself (``nvwa.scene/1``)
==========  ===========================  ==================================================

Each file is written to a temp name and renamed into place: a crash leaves the old export or the new
one, never half of one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from nvwa.errors import InputError
from nvwa.options import option
from nvwa.scene.schema import Scene, save_scene

BODIES = ("human", "human-lowpoly", "capsule")


@dataclass(frozen=True)
class ExportConfig:
    """How the people look in the exports that draw them (GLB, PLY)."""

    body: str = option("human", "the people's bodies in the GLB and PLY: human (a MakeHuman body of each person's own "
                       "size; `nvwa models fetch` builds it), human-lowpoly (the same body in ~1,600 vertices, for crowds and phones) or "
                       "capsule (the procedural mannequin)",
                       choices=BODIES, flag="", job=True)
    models_dir: str | None = field(default=None, metadata={"hidden": True})  # where the human body asset is
    check: Callable[[], None] | None = field(default=None, metadata={"hidden": True}, compare=False)  # called per person by slow exporters

    def human_body(self):
        """The loaded human body asset for ``body="human"`` (its low-poly mesh for ``"human-lowpoly"``; None
        for capsules); a missing or altered asset is one line naming `nvwa models fetch`."""
        if self.body == "capsule":
            return None
        from nvwa.body.human import load_human_body
        from nvwa.models.store import human_body_path

        body = load_human_body(human_body_path(self.models_dir))
        return body.low_poly() if self.body == "human-lowpoly" else body


def _glb(scene: Scene, out: Path, config: ExportConfig) -> list[Path]:
    from nvwa.export.glb import write_glb

    return [write_glb(scene, out / "scene.glb", body=config.human_body())]


def _bvh(scene: Scene, out: Path, config: ExportConfig) -> list[Path]:
    from nvwa.export.bvh import write_bvh

    return write_bvh(scene, out / "bvh")


def _ply(scene: Scene, out: Path, config: ExportConfig) -> list[Path]:
    from nvwa.export.ply import write_ply

    return write_ply(scene, out / "ply", body=config.human_body(), check=config.check)


def _npz(scene: Scene, out: Path, config: ExportConfig) -> list[Path]:
    return list(save_scene(scene, out))


EXPORTERS: dict[str, Callable[[Scene, Path, ExportConfig], list[Path]]] = {"glb": _glb, "bvh": _bvh, "ply": _ply, "npz": _npz}
DEFAULT_EXPORTS = ("glb", "npz")


def parse_formats(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"glb,bvh"`` (or a list) -> ("glb", "bvh"); an unknown or empty name is an InputError."""
    names = [s.strip().lower() for s in (text.split(",") if isinstance(text, str) else text)]
    if not names or any(not n for n in names):
        raise InputError(f"export formats {text!r}", f"empty name; choose from {', '.join(EXPORTERS)}")
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise InputError(f"export format {unknown[0]!r}", f"is unknown; choose from {', '.join(EXPORTERS)}")
    return tuple(dict.fromkeys(names))


def export_scene(scene: Scene, out_dir: str | os.PathLike, formats=DEFAULT_EXPORTS,
                 config: ExportConfig = ExportConfig(), check: Callable[[], None] | None = None) -> dict[str, list[Path]]:
    """Write ``scene`` in each of ``formats`` into ``out_dir`` -> {format: paths written}. ``npz`` goes
    last, since its scene.json marks a finished result. ``check`` is called before each format (a service
    job's cancellation raises there, so a deleted job stops writing within one format)."""
    names = parse_formats(formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = [n for n in names if n != "npz"] + [n for n in names if n == "npz"]
    written = {}
    for n in order:
        if check is not None:
            check()
        written[n] = EXPORTERS[n](scene, out, config if n != "ply" or check is None else replace(config, check=check))
    return written


__all__ = ["EXPORTERS", "DEFAULT_EXPORTS", "ExportConfig", "BODIES", "export_scene", "parse_formats"]
