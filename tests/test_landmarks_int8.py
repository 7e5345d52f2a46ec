"""The landmark network with its middle in int8 (nvwa.body.landmarks_int8): made the same from the same
bundle, written by `nvwa models fetch` beside the bundle and read from there only where verified, its poses
within a 1.5-px shift's noise of the float network's on real people, and the float network's last word on
a tracked person it would lose."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from test_landmarks import _vtest_frame

# people on frame 15 of vtest (tests/data/vtest_4s.mp4 is its first 4 s), boxes from
# ../shared/data/labels/vtest_people.json (checked by eye)
FRAME_15_PEOPLE = [[342, 201, 375, 287], [441, 172, 478, 249], [501, 235, 525, 324], [722, 288, 763, 402]]
# the int8 network made from the pinned mediapipe 0.10.21 bundle with ai-edge-quantizer 0.10.0 and the
# ranges in src/nvwa/body/landmarks_int8_ranges.json (`nvwa models fetch` records the same checksum)
INT8_SHA256 = "ba9bbd483eac63ebb2a2e478454de962fae8796079fd8c5343470a4776476521"


def _network_of(task: bytes) -> bytes:
    import io
    import zipfile

    from nvwa.body.landmarks import LANDMARK_NETWORK

    with zipfile.ZipFile(io.BytesIO(task)) as z:
        return z.read(LANDMARK_NETWORK)


@pytest.mark.model
def test_the_int8_network_is_the_same_bytes_on_every_machine_and_fetch_writes_it_beside_the_bundle(models_dir, tmp_path):
    """Made from the bundle's network (its mask blanked) and the ranges kept in the package: the pinned
    checksum; `nvwa models fetch`'s copy is read only where verified (made from this bundle by this recipe,
    its own checksum), else it is made in memory, the same bytes."""
    from nvwa.body.landmarks import bundle_without_mask
    from nvwa.body.landmarks_int8 import INT8_REWRITE, int8_network, int8_network_for
    from nvwa.models import blazepose_task_path
    from nvwa.models.fetch import write_int8_network
    from nvwa.models.store import int8_network_name, made_from_bundle

    bundle = tmp_path / "pose_landmarker_full.task"
    shutil.copy(blazepose_task_path(models_dir), bundle)
    maskless = bundle_without_mask(bundle)
    made = int8_network(_network_of(maskless))
    assert hashlib.sha256(made).hexdigest() == INT8_SHA256
    name = int8_network_name(bundle)
    assert made_from_bundle(bundle, name, INT8_REWRITE) is None  # nothing written yet: made in memory
    assert int8_network_for(bundle, maskless) == made
    copy = write_int8_network(bundle)
    assert copy.name == "pose_landmarker_full.landmarks_int8.tflite" and copy.read_bytes() == made
    entry = json.loads((tmp_path / "manifest.json").read_text())[name]
    assert entry["sha256"] == INT8_SHA256 and entry["rewrite"] == INT8_REWRITE
    assert made_from_bundle(bundle, name, INT8_REWRITE) == made
    assert made_from_bundle(bundle, name, INT8_REWRITE + 1) is None  # made by another recipe: not used
    copy.write_bytes(made[:-1] + bytes([made[-1] ^ 1]))  # a damaged copy: not used, made again in memory
    assert made_from_bundle(bundle, name, INT8_REWRITE) is None and int8_network_for(bundle, maskless) == made


@pytest.mark.model
def test_the_int8_network_moves_real_peoples_landmarks_no_more_than_a_shift_of_their_crop_does(blazepose):
    """Four walkers of vtest (60-115 px tall), each on the region the float network settles on: the int8
    network's landmarks (2D, in % of the person's height; 3D, mm) move from the float network's by about
    what a 1.5-px shift of the same crop moves the float network's (the noise the tracker lives with), not
    by the 2-3x of the whole network in int8; it is as sure someone is there; and its middle is int8."""
    import cv2
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from nvwa.body.landmarks import LandmarkNetwork, Region

    net, fast = blazepose.network, LandmarkNetwork(_fast_bytes(blazepose), 1)  # (the default follows with int8 only on some CPUs)
    image = _vtest_frame(15)
    shift = np.float32([[1, 0, 1.5], [0, 1, 0]])
    moved, shifted, moved_3d, shifted_3d = [], [], [], []
    try:
        for box in FRAME_15_PEOPLE:
            region = Region.from_box(np.array(box, float), 1.5)
            for _ in range(2):
                region = net.run(region.crop(image), region).next_region
            crop = region.crop(image)
            a, b = net.run(crop, region), fast.run(crop, region)
            c = net.run(cv2.warpAffine(crop, shift, crop.shape[1::-1]), region)
            seen = a.visibility > 0.5
            height = np.ptp(a.keypoints_2d[seen, 1])
            assert a.presence > 0.9 and b.presence > 0.9 and seen.sum() > 20
            step = np.linalg.norm(shift[:, 2]) * region.side / 256  # the shift in frame px
            moved.append(np.linalg.norm(b.keypoints_2d - a.keypoints_2d, axis=1)[seen].mean() / height)
            shifted.append(np.linalg.norm(c.keypoints_2d - a.keypoints_2d - [step, 0], axis=1)[seen].mean() / height)
            moved_3d.append(np.linalg.norm(b.keypoints_3d - a.keypoints_3d, axis=1).mean())
            shifted_3d.append(np.linalg.norm(c.keypoints_3d - a.keypoints_3d, axis=1).mean())
        assert np.mean(moved) < 1.5 * np.mean(shifted) and np.mean(moved) < 0.02, (moved, shifted)
        assert np.mean(moved_3d) < 1.5 * np.mean(shifted_3d) and np.mean(moved_3d) < 0.03, (moved_3d, shifted_3d)
    finally:
        fast.close()
    it = Interpreter(model_content=_fast_bytes(blazepose), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    ops = {d["op_name"] for d in it._get_ops_details()}  # (the reference kernels: XNNPACK's would show as one DELEGATE)
    assert {"QUANTIZE", "DEQUANTIZE"} <= ops  # int8 inside, float at both ends


def _fast_bytes(blazepose) -> bytes:
    from nvwa.body.landmarks_int8 import int8_network_for

    return int8_network_for(blazepose.config.task_path, blazepose._model_bytes)


# /proc/cpuinfo's lines as six kinds of CPU give them (trimmed)
EPYC_AVX2 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx avx2 bmi2\n"
XEON_VNNI = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_vnni\nvmx flags\t: ept vpid\nprocessor\t: 1\n"
ALDER_LAKE = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx_vnni\n"
SAPPHIRE_RAPIDS_VM = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 amx_bf16 amx_tile amx_int8\n"
GRAVITON = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n"
SKYLAKE_X = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl\n"  # AVX-512, no VNNI

# whole flag lines as read: a lent machine's Xeon (lscpu: family 6, model 207; int8 1.41x a crop there) and this
# project's AVX2-only EPYC (int8 0.92-0.95x)
XEON_AMX_WHOLE = ("model name\t: Intel(R) Xeon(R) Processor\nflags\t\t: "
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 "
    "ss ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid "
    "tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt "
    "tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch cpuid_fault ssbd "
    "ibrs ibpb stibp ibrs_enhanced fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq "
    "rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec "
    "xgetbv1 xsaves avx_vnni avx512_bf16 wbnoinvd arat avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes "
    "vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid bus_lock_detect cldemote movdiri "
    "movdir64b fsrm md_clear serialize tsxldtrk ibt amx_bf16 avx512_fp16 amx_tile amx_int8 flush_l1d "
    "arch_capabilities"
    "\n")
EPYC_AVX2_WHOLE = ("model name\t: AMD EPYC\nflags\t\t: "
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 "
    "ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc "
    "cpuid extd_apicid tsc_known_freq pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt "
    "tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a "
    "misalignsse 3dnowprefetch osvw topoext ssbd ibrs ibpb stibp vmmcall fsgsbase tsc_adjust bmi1 avx2 "
    "smep bmi2 rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 clzero xsaveerptr wbnoinvd "
    "arat umip rdpid"
    "\n")


def test_which_cpus_have_int8_dot_products():
    """The rule ``--blazepose.landmark-network auto`` goes by (no model needed): int8 dot products (x86 VNNI
    or AMX-INT8, Arm's dotprod, an arm64 Mac), not AVX-512 alone (a Skylake-X has no VNNI) nor AVX2."""
    from nvwa.body.landmarks_int8 import int8_dot_products

    for cpu in (EPYC_AVX2, EPYC_AVX2_WHOLE, SKYLAKE_X):
        assert not int8_dot_products(cpu, "Linux", "x86_64"), cpu
    for cpu, machine in ((XEON_VNNI, "x86_64"), (ALDER_LAKE, "x86_64"), (SAPPHIRE_RAPIDS_VM, "x86_64"), (XEON_AMX_WHOLE, "x86_64"),
                         (GRAVITON, "aarch64")):
        assert int8_dot_products(cpu, "Linux", machine), cpu
    assert not int8_dot_products("flags\t\t: fpu avx2\nvmx flags\t: avx512_vnni\n", "Linux", "x86_64")  # not a CPU flag line
    assert not int8_dot_products("", "Linux", "x86_64") and not int8_dot_products("", "Windows", "AMD64")
    assert int8_dot_products(None, "Darwin", "arm64") and not int8_dot_products(None, "Darwin", "x86_64")


@pytest.mark.model
def test_the_int8_network_follows_people_only_on_cpus_with_int8_dot_products(monkeypatch, models_dir):
    """``--blazepose.landmark-network auto`` (the default): int8 where the CPU has int8 dot products (1.41x
    a crop on a Xeon with VNNI and AMX; on an AVX2-only EPYC it was no faster: 0.95x), float elsewhere; int8
    and float as asked whatever the CPU."""
    import nvwa.body.blazepose as bp
    from nvwa.models import blazepose_task_path

    task = str(blazepose_task_path(models_dir))
    for choice, dot, int8 in (("auto", False, False), ("auto", True, True), ("float", True, False), ("int8", False, True)):
        monkeypatch.setattr(bp, "int8_dot_products", lambda: dot)
        body = bp.BlazePoseBody(bp.BlazePoseConfig(task, landmark_network=choice, threads=1))
        try:
            assert body.int8_tracking == int8 and (body.tracking_network is not body.network) == int8, choice
            video = body.init_state()
            assert video.early_crops()["tracking_network"] == ("int8" if int8 else "float")  # in the run's summary
            video.close()
        finally:
            body.close()


@pytest.mark.model
def test_a_tracked_person_the_int8_network_would_lose_is_looked_at_by_the_float_network(blazepose):
    """Where the network following a tracked person says nobody is there, the float network looks at the
    same crop before the person is let go: a presence the int8 network got wrong loses nobody."""
    image = _vtest_frame(15)
    box = np.array(FRAME_15_PEOPLE[3], float)
    real = blazepose.tracking_network

    video = blazepose.init_state()
    unsure = _Following(real, presence=0.0)
    try:
        assert video.track(3, image, box, 0.0) is not None  # a first look: the float network
        blazepose.tracking_network = unsure
        for k in range(1, 4):
            obs = video.track(3, image, box, k / 10)
            assert obs is not None and obs.score > 0.5  # kept, on the float network's word
        assert unsure.calls == 3
    finally:
        blazepose.tracking_network = real
        video.close()


@pytest.mark.model
def test_people_overlapping_each_other_and_the_smallest_are_followed_by_the_float_network(blazepose):
    """Two tracked people whose boxes overlap (a crossing: each crop holds both, where a small difference
    decides whom the pose takes) are landmarked by the float network, and so is someone shorter than
    ``int8_min_px``; the others by the int8 one."""
    image = _vtest_frame(15)
    a, b = (np.array(FRAME_15_PEOPLE[k], float) for k in (0, 1))
    b_near = a + [20, 0, 20, 0]  # a second box overlapping the first
    real = blazepose.tracking_network
    video = blazepose.init_state()
    following = _Following(real)
    try:
        video.track_many([(1, image, a, None), (2, image, b, None)], 0.0)  # first looks
        blazepose.tracking_network = following
        video.track_many([(1, image, a, None), (2, image, b, None)], 0.1)
        assert following.calls == 2  # apart: both on the int8 network
        video.track_many([(1, image, a, None), (2, image, b_near, None)], 0.2)
        assert following.calls == 2  # overlapping: neither
        small = b + [0, 0, 0, blazepose.config.int8_min_px - 1 - (b[3] - b[1])]  # shorter than int8_min_px
        video.track_many([(1, image, a, None), (3, image, b, None)], 0.3)  # 3: a first look (float)
        video.track_many([(1, image, a, None), (3, image, b, None)], 0.4)
        assert following.calls == 5  # both on the int8 network
        video.track_many([(1, image, a, None), (3, image, small, None)], 0.5)
        assert following.calls == 6  # the small one on the float network
    finally:
        blazepose.tracking_network = real
        video.close()


class _Following:
    """The network following tracked people, counting its crops (and saying ``presence`` where given)."""

    def __init__(self, real, presence: float | None = None):
        self.real, self.presence, self.calls, self.threads = real, presence, 0, real.threads

    def start(self, job):
        from concurrent.futures import Future

        from nvwa.body.landmarks import Landmarks

        self.calls += 1
        out = self.real.start(job).result()
        if self.presence is not None:
            out = Landmarks(out.keypoints_2d, out.keypoints_3d, out.visibility, self.presence, out.next_region)
        done = Future()
        done.set_result(out)
        return done

