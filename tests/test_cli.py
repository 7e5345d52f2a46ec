"""`nvwa process` from the outside: bad inputs end with one line and no output; an empty video is a valid empty scene."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, REPO, make_video
from test_video import BAD, _bad


def _nvwa(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "nvwa", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_video_is_one_line_error_and_no_output(tmp_path, kind):
    video = _bad(tmp_path, kind)
    out = tmp_path / "out"
    r = _nvwa("process", video, "-o", out)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("nvwa: error: ") and str(video) in lines[0] and BAD[kind] in lines[0]
    assert not (out / "scene.json").exists() and not (out / "scene.npz").exists()


def test_bad_option_value_is_refused(tmp_path):
    r = _nvwa("process", DATA / "vtest_4s.mp4", "-o", tmp_path / "o", "--K", "1,2")
    assert r.returncode != 0 and "--K 1,2" in r.stderr
    assert not (tmp_path / "o" / "scene.json").exists()


def test_unknown_export_format_is_refused_before_any_work(tmp_path):
    r = _nvwa("process", DATA / "vtest_4s.mp4", "-o", tmp_path / "o", "--format", "glb,fbx")
    assert r.returncode == 2 and r.stderr.strip() == "nvwa: error: export format 'fbx': is unknown; choose from glb, bvh, ply, npz"
    assert not (tmp_path / "o").exists()


def test_missing_model_names_the_command(tmp_path):
    r = _nvwa("process", DATA / "vtest_4s.mp4", "-o", tmp_path / "o", "--models-dir", tmp_path / "nomodels")
    assert r.returncode != 0 and "nvwa models fetch" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_video_without_people_is_an_empty_valid_scene(tmp_path, models_dir):
    rng = np.random.default_rng(0)
    video = make_video(tmp_path / "empty_street.mkv", n=15, size=(320, 240),
                       frame_fn=lambda i: (rng.integers(90, 110, (240, 320, 3))).astype(np.uint8))
    out = tmp_path / "out"
    r = _nvwa("process", video, "-o", out, "--models-dir", models_dir, "--format", "glb,bvh")
    assert r.returncode == 0, r.stderr
    assert "no people found" in r.stderr
    assert (out / "scene.glb").stat().st_size > 0 and (out / "bvh" / "everyone.bvh").exists()
    summary = json.loads((out / "scene.json").read_text())
    assert summary["people"] == [] and summary["stats"]["frames"] + summary["stats"]["repeated_frames"] == 15
    assert summary["stats"]["frames"] == 5  # (grey noise of +-10: nothing changes, so a new look every 0.25 s)
    with np.load(out / "scene.npz") as z:
        assert z["person_ids"].shape == (0,)


def test_from_another_folder_without_o_writes_beside_the_video(tmp_path, models_dir):
    """The models are found from any working directory (the user data dir); with no -o the output goes
    beside the input, as ffmpeg-style tools do; --export is the same flag as --format."""
    import shutil

    video = shutil.copy(DATA / "sports2d_3s.mp4", tmp_path / "clip.mp4")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = _nvwa("process", video, "--max-frames", "20", "--export", "glb,bvh", "--quiet", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "clip_nvwa"
    assert (out / "scene.json").exists() and (out / "scene.glb").exists() and (out / "bvh").is_dir()
    assert "DestroyAccelerator" not in r.stderr + r.stdout  # MediaPipe's native log lines are silenced
    listed = _nvwa("models", "list", cwd=elsewhere)
    assert listed.returncode == 0 and "verified" in listed.stdout
    missing = _nvwa("models", "list", "--models-dir", tmp_path / "none", cwd=elsewhere)
    assert missing.returncode == 1 and "BlazePose model not found" in missing.stdout


def test_a_clip_analysed_at_two_frames_comes_out_whole(tmp_path, models_dir):
    """--max-fps 0.5 keeps 2 of the 4-s clip's 40 frames: people of one frame each, every export written
    (the planted feet's blend, longer than such a track, crashed it; `--stride 20` did too)."""
    r = _nvwa("process", DATA / "vtest_4s.mp4", "-o", tmp_path, "--max-fps", "0.5", "--export", "glb,bvh,ply", "--quiet")
    assert r.returncode == 0, r.stderr
    scene = json.loads((tmp_path / "scene.json").read_text())
    assert scene["stats"]["frames"] == 2 and scene["stats"]["options"]["stride"] == 20
    assert scene["people"]  # people of one or two frames: what crashed
    assert (tmp_path / "scene.glb").stat().st_size and (tmp_path / "bvh" / "timing.json").is_file()


@pytest.mark.parametrize("command", ["process", "reconstruct", "export", "worker", "serve", "models"])
def test_every_commands_help_prints(command, capsys):
    """`--help` lists every option, whatever its text holds (argparse formats help with %: an option's "5%"
    broke `nvwa process --help` once)."""
    from nvwa.cli import main

    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: nvwa " + command)
    if command == "process":
        assert "--tracking.full-pass-every-s" in out and "5% less CPU" in " ".join(out.split())  # as wrapped


def test_version_and_one_format_flag():
    from nvwa import __version__

    r = _nvwa("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"nvwa {__version__}"
    for cmd in ("process", "export"):
        text = " ".join(_nvwa(cmd, "--help").stdout.split())  # argparse wraps lines
        assert "--format FORMAT, --export FORMAT" in text and "default glb,npz" in text, text


def test_an_unwritable_output_folder_is_one_line_naming_it(tmp_path, models_dir):
    """No -o and a folder that cannot be written to: a real refusal by the file system (chmod for a
    user; for root, which chmod does not stop, the folder is made immutable with chattr)."""
    import os
    import shutil

    folder = tmp_path / "readonly"
    folder.mkdir()
    video = Path(shutil.copy(DATA / "sports2d_3s.mp4", folder / "clip.mp4"))
    if os.geteuid() == 0:
        lock = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
        if lock.returncode != 0:
            pytest.skip(f"running as root and chattr +i failed ({lock.stderr.strip()}): no folder root cannot write")
        unlock = ["chattr", "-i", str(folder)]
    else:
        folder.chmod(0o555)
        unlock = ["chmod", "755", str(folder)]
    try:
        r = _nvwa("process", video, "--models-dir", models_dir)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert lines[0].startswith("nvwa: error: ") and str(folder / "clip_nvwa") in lines[0] and "cannot write" in lines[0]
        assert not (folder / "clip_nvwa").exists()
    finally:
        subprocess.run(unlock, check=True)
