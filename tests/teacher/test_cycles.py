"""The path-traced teacher: Cycles draws the same geometry as the maps, pixel for pixel.

These need Blender's ``bpy`` (the test extra installs it on Python 3.11); elsewhere they skip,
except the tests of the missing-``bpy`` message.
"""

from __future__ import annotations

import colorsys
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import SCENE_DIR
from worldsim.physics import PhysicsWorld
from worldsim.scene import load_scene, scene_from_dict
from worldsim.teacher.tiny import render_frame


def _bpy():
    return pytest.importorskip("bpy", reason="Blender's bpy is not installed (pip install 'worldsim[cycles]')")


@pytest.fixture()
def cycles():
    _bpy()
    from worldsim.teacher import cycles

    return cycles


@pytest.mark.parametrize("name", ["tower_topple", "panda_push", "billiards_break", "mesh_bin"])
def test_cycles_silhouettes_match_the_segmentation(cycles, name):
    """Cycles' own geometry (one sample at each pixel centre, flat id colours) against TinyRenderer's ids."""
    spec = load_scene(SCENE_DIR / f"{name}.yaml")
    with PhysicsWorld(spec) as world:
        world.step_frames(6)  # things have moved: poses are read per frame
        with cycles.CyclesTeacher(world, resolution=(96, 72)) as teacher:
            ids = teacher.render_ids(world)
        seg = render_frame(world, resolution=(96, 72), visibility=False).segmentation
    assert ids.shape == seg.shape == (72, 96)
    assert (ids == seg).mean() > 0.99  # tessellation of spheres and meshes differs at a few edge pixels
    for body in range(len(spec.bodies)):
        mine, ref = ids == body, seg == body
        if ref.sum() >= 30:
            assert (mine & ref).sum() / (mine | ref).sum() > 0.9, spec.bodies[body].name


def test_a_wrong_pose_would_be_caught(cycles):
    """The silhouette check can fail: one box moved by 5 cm after Cycles read its shapes is seen."""
    spec = load_scene(SCENE_DIR / "tower_topple.yaml")
    with PhysicsWorld(spec) as world, cycles.CyclesTeacher(world, resolution=(96, 96)) as teacher:
        seg = render_frame(world, resolution=(96, 96), visibility=False).segmentation
        pos = np.asarray(world.state().positions[2]) + [0.05, 0.0, 0.0]
        world.set_pose("b1", pos.tolist())
        ids = teacher.render_ids(world)
    mine, ref = ids == 2, seg == 2
    assert (mine & ref).sum() / (mine | ref).sum() < 0.8


def _hue(rgb: np.ndarray) -> np.ndarray:
    return np.array([colorsys.rgb_to_hsv(*(c / 255.0))[0] for c in rgb.reshape(-1, 3)])


def test_simulate_teacher_cycles_writes_a_path_traced_reference(cycles, tmp_path):
    """`worldsim simulate --teacher cycles`: the shaded frames line up with the saved segmentation.

    Each tower block has its own saturated hue; inside its mask (eroded by a pixel) the Cycles image
    has that hue, and the silhouettes of the image (where the hue changes) are the mask's.
    """
    import imageio.v3 as iio

    result = subprocess.run([sys.executable, "-m", "worldsim.cli", "simulate", SCENE_DIR / "tower_topple.yaml", "--out",
                             tmp_path, "--seconds", "0.25", "--resolution", "96x96", "--teacher", "cycles",
                             "--samples", "8"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    maps = np.load(tmp_path / "maps.npz")
    video = iio.imread(tmp_path / "reference.mp4")
    assert video.shape[0] == maps["rgb"].shape[0] == 7
    spec = load_scene(SCENE_DIR / "tower_topple.yaml")
    rgb, seg = maps["rgb"][-1], maps["segmentation"][-1]
    assert not np.array_equal(rgb, maps["albedo"][-1])  # the path-traced image, not the unlit albedo
    from scipy.ndimage import binary_erosion

    for body in range(1, len(spec.bodies)):
        inside = binary_erosion(seg == body)
        if inside.sum() < 5:
            continue
        want = colorsys.rgb_to_hsv(*spec.bodies[body].color[:3])[0]
        got = np.median(_hue(rgb[inside]))
        assert min(abs(got - want), 1 - abs(got - want)) < 0.06, spec.bodies[body].name


def test_cycles_frames_are_deterministic(cycles):
    spec = load_scene(SCENE_DIR / "billiards_break.yaml")
    with PhysicsWorld(spec) as world, cycles.CyclesTeacher(world, resolution=(48, 48),
                                                           options=cycles.CyclesOptions(samples=4)) as teacher:
        first = teacher.render(world)
        again = teacher.render(world)
    assert first.dtype == np.uint8 and first.shape == (48, 48, 3)
    assert np.array_equal(first, again)


def _pole(**light) -> dict:
    return {"bodies": [{"name": "floor", "type": "plane"},
                       {"name": "pole", "type": "box", "size": [0.08, 0.08, 0.6], "position": [0, 0, 0.3], "static": True}],
            "cameras": [{"position": [0.0, -1.0, 1.2], "target": [0.25, 0.1, 0.0], "resolution": [64, 64]}],
            "light": {"direction": [-0.8, -0.3, 0.6], **light}}


def test_sun_size_softens_the_shadow(cycles):
    """A wider sun gives a wider penumbra: more floor pixels near the pole's shadow that are neither
    fully lit nor fully shadowed (measured at 0.5° and 20°: 42 and 90 pixels)."""
    from scipy.ndimage import binary_dilation

    def penumbra(angle: float) -> int:
        spec = scene_from_dict(_pole(angle_deg=angle))
        with PhysicsWorld(spec) as world, cycles.CyclesTeacher(world, options=cycles.CyclesOptions(samples=64)) as teacher:
            img = teacher.render(world).astype(float).mean(-1)
            frame = render_frame(world)
        floor = frame.segmentation == 0
        shadow = floor & (frame.light_visibility == 0)  # the hard shadow, from rays
        near = binary_dilation(shadow, iterations=4) & floor
        lit, dark = np.median(img[floor & ~shadow]), np.percentile(img[shadow], 10)
        return int((near & (img > dark + 0.2 * (lit - dark)) & (img < lit - 0.2 * (lit - dark))).sum())

    assert penumbra(20.0) > 1.5 * penumbra(0.5)


def test_missing_bpy_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "bpy", None)  # makes `import bpy` raise ImportError
    from worldsim.teacher.cycles import TeacherUnavailable, require_bpy

    with pytest.raises(TeacherUnavailable, match=r"pip install 'worldsim\[cycles\]'"):
        require_bpy()


def test_cli_without_bpy_fails_in_one_line(tmp_path):
    code = ("import sys; sys.modules['bpy'] = None; from worldsim.cli import main; "
            f"sys.exit(main(['simulate', {str(SCENE_DIR / 'tower_topple.yaml')!r}, '--out', {str(tmp_path)!r}, "
            "'--teacher', 'cycles']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert "worldsim[cycles]" in result.stderr and "Traceback" not in result.stderr


def test_render_look_cycles_uses_the_shipped_cycles_checkpoint(cycles, tmp_path):
    from worldsim.checkpoint import load_model

    model, _ = load_model("cycles")
    assert model.config.pbr  # the shipped Cycles-look checkpoint conditions on surfaces and lighting
    result = subprocess.run([sys.executable, "-m", "worldsim.cli", "render", SCENE_DIR / "tower_topple.yaml", "--out",
                             tmp_path, "--look", "cycles", "--seconds", "0.2", "--steps", "1"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "reference: Cycles" in result.stdout and "PSNR" in result.stdout
    frames = np.load(tmp_path / "frames.npz")
    assert frames["model"].shape == frames["reference"].shape == (5, 128, 128, 3)  # the camera's own size


@pytest.mark.parametrize("kind", ["sky", "uniform"])
def test_the_environment_map_is_the_background_cycles_draws(cycles, kind):
    """Empty pixels of a Cycles frame show exactly the world colour the renderer's environment map
    computes (within 2 levels on average), for a sky gradient and a uniform world."""
    import torch

    from worldsim.conditioning.arrays import from_frames
    from worldsim.conditioning.tensors import environment_maps

    doc = _pole()
    doc["cameras"] = [{"position": [0.0, -1.5, 0.6], "target": [0.0, 0.0, 0.7], "resolution": [48, 48]}]  # half sky
    doc["environment"] = {"kind": kind, "color": [0.8, 0.6, 0.4], "zenith_color": [0.2, 0.3, 0.9], "strength": 1.2}
    spec = scene_from_dict(doc)
    with PhysicsWorld(spec) as world, cycles.CyclesTeacher(world, options=cycles.CyclesOptions(samples=4)) as teacher:
        image = teacher.render(world) / 255.0
        frame = render_frame(world, visibility=False)
    arrays = {k: torch.from_numpy(np.asarray(v))[None] for k, v in from_frames(spec, [frame]).items()}
    fg = (arrays["segmentation"] >= 0).float()
    background, _ = environment_maps(arrays["environment"].float(), arrays["intrinsics"].float(),
                                     arrays["extrinsics"].float(), arrays["normals"].float(), fg)
    empty = frame.segmentation < 0
    assert empty.mean() > 0.2
    error = np.abs(background[0, 0].numpy()[empty] - image[empty]) * 255
    assert error.mean() < 2.0
    if kind == "sky":  # the gradient is really there: the top row is bluer than the horizon row
        column = background[0, 0, :, 24].numpy()
        assert column[0, 2] - column[0, 0] > column[20, 2] - column[20, 0] + 0.05


def test_the_raster_map_pass_lines_up_with_cycles_and_tinyrenderer_does_not(cycles):
    """Cycles draws worldsim's own meshes and UVs; so does the raster map pass, and its maps are Cycles'
    geometry exactly. TinyRenderer draws spheres and capsules coarser and maps box textures its own way."""
    from worldsim.recording import draw_frame

    spec = scene_from_dict({"bodies": [
        {"name": "floor", "type": "plane", "color": [0.5, 0.5, 0.5]},
        {"name": "box", "type": "box", "size": [0.3, 0.3, 0.3], "position": [0, 0, 0.15], "texture": {"checker": 4}},
        {"name": "ball", "type": "sphere", "radius": 0.1, "position": [0.3, -0.25, 0.1], "color": [0.9, 0.2, 0.2]},
        {"name": "pill", "type": "capsule", "radius": 0.06, "length": 0.2, "position": [-0.3, -0.2, 0.06],
         "orientation": [0, 0.7071, 0, 0.7071], "color": [0.2, 0.8, 0.3]}],
        "cameras": [{"position": [0.9, -1.1, 0.8], "target": [0, -0.1, 0.1], "resolution": [128, 128]}]})
    with PhysicsWorld(spec) as world:
        with cycles.CyclesTeacher(world, None, (128, 128), cycles.CyclesOptions(samples=4)) as teacher:
            ids, rgb = teacher.render_ids(world), teacher.render(world)
        frames = {p: draw_frame(world, None, (128, 128), p, lit=False) for p in ("tiny", "raster")}

    def iou(seg, body):
        return ((seg == body) & (ids == body)).sum() / ((seg == body) | (ids == body)).sum()

    def texture_agreement(frame):  # inside the box, does the albedo's checker sit where Cycles draws it?
        inside = (frame.segmentation == 1) & (ids == 1)
        return np.corrcoef(frame.albedo.mean(-1)[inside], rgb.astype(float).mean(-1)[inside])[0, 1]

    raster, tiny = frames["raster"], frames["tiny"]
    assert np.mean(raster.segmentation == ids) == 1.0
    assert min(iou(raster.segmentation, b) for b in (1, 2, 3)) == 1.0
    assert iou(tiny.segmentation, 3) < 0.95  # measured 0.90: the capsule's coarse caps
    assert texture_agreement(raster) > 0.7 > 0.3 > texture_agreement(tiny)  # measured 0.83 and 0.11
