"""Import an Nvwa GLB and BVH into Blender and report what Blender sees (run headless):

    blender -b --factory-startup --python tools/blender_check.py -- scene.glb person_3.bvh 3 T_CONTACT T0 FPS

Prints one line ``NVWA_CHECK {json}``: per file the armature's bone count, the animation's frame count
and the lowest foot bone head height (m, Blender's Z up) at the video time T_CONTACT (the BVH's frame 0
is the person's first timestamp T0); for the GLB also the skinned body's vertex count and lowest vertex
as Blender poses them (and every posed vertex into the .npy file $NVWA_POSED_OUT names).
"""

import json
import sys

import bpy
import numpy

# Two shims for Debian bookworm's Blender 3.4 on its Python 3.11 / NumPy 1.24 (distribution bugs,
# not ours): the glTF importer calls numpy.bool (removed in NumPy 1.24) and the BVH importer opens
# files with mode "rU" (removed in Python 3.11).
if "bool" not in numpy.__dict__:
    numpy.bool = bool
import builtins  # noqa: E402

import io_anim_bvh.import_bvh  # noqa: E402

io_anim_bvh.import_bvh.open = lambda path, mode="r", *a, **k: builtins.open(path, mode.replace("U", ""), *a, **k)

glb, bvh, pid, t_contact, t0, fps = sys.argv[sys.argv.index("--") + 1:]
pid, t_contact, t0, fps = int(pid), float(t_contact), float(t0), float(fps)
FEET = ("left_ankle", "right_ankle", "left_foot", "right_foot")


def set_fps(scene):
    # Blender's glTF importer puts time t at frame t * render.fps (fps_base ignored), so that is the
    # frame we read at; fps_base keeps playback at the video's rate (29.97 = 30 / 1.001)
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps


def lowest_foot(arm, prefix, frame):
    scene = bpy.context.scene
    whole = int(frame // 1)
    scene.frame_set(whole, subframe=frame - whole)
    heads = [(arm.matrix_world @ arm.pose.bones[prefix + n].head) for n in FEET]
    return min(h.z for h in heads)


def frames_of(arm):
    action = arm.animation_data.action
    lo, hi = action.frame_range
    return int(round(hi - lo)) + 1


report = {}
bpy.ops.wm.read_factory_settings(use_empty=True)
set_fps(bpy.context.scene)
bpy.ops.import_scene.gltf(filepath=glb)
arms = [o for o in bpy.context.scene.objects if o.type == "ARMATURE" and f"person_{pid}_pelvis" in o.data.bones]
arm = arms[0]
scene_fps = bpy.context.scene.render.fps
report["glb"] = {"bones": len(arm.data.bones), "frames": frames_of(arm),
                 "lowest_foot_m": lowest_foot(arm, f"person_{pid}_", t_contact * scene_fps)}
# the person's skinned body as Blender poses it at that time (armature modifier, evaluated): its lowest
# vertex, and every vertex saved (world metres, Y up as in the GLB) when NVWA_POSED_OUT names a .npy file
body = bpy.data.objects.get(f"person_{pid}_body")
if body is not None:
    mesh = body.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh()
    posed = numpy.array([tuple(body.matrix_world @ v.co) for v in mesh.vertices])  # Blender: Z up
    posed = posed[:, [0, 2, 1]] * [1, 1, -1]  # back to glTF's Y up
    report["glb"]["vertices"] = len(posed)
    report["glb"]["lowest_vertex_m"] = float(posed[:, 1].min())
    import os
    if os.environ.get("NVWA_POSED_OUT"):
        numpy.save(os.environ["NVWA_POSED_OUT"], posed)

bpy.ops.wm.read_factory_settings(use_empty=True)
set_fps(bpy.context.scene)
bpy.ops.import_anim.bvh(filepath=bvh, global_scale=0.01, frame_start=1, use_fps_scale=False, update_scene_fps=False,
                        update_scene_duration=True, rotate_mode="NATIVE", axis_forward="-Z", axis_up="Y")
arm = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"][0]
report["bvh"] = {"bones": len(arm.data.bones), "frames": frames_of(arm),
                 "lowest_foot_m": lowest_foot(arm, "", 1 + round((t_contact - t0) * fps))}
print("NVWA_CHECK " + json.dumps(report))
