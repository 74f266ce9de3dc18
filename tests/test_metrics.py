"""Every metric punishes a bad input: shifted objects, swapped colours, noise, a dropped object."""

from __future__ import annotations

import numpy as np
import pytest

from worldsim.dataset import clip_arrays
from worldsim.metrics import (
    SURFACES,
    _best_residual,
    clip_metrics,
    clipped,
    colour_drift,
    error_by_surface,
    flicker,
    psnr,
    squared_error_by_surface,
    ssim,
)
from worldsim.scene import scene_from_dict


@pytest.fixture(scope="module")
def clip():
    spec = scene_from_dict({
        "sim": {"duration": 0.5},
        "bodies": [{"name": "floor", "type": "plane", "texture": {"checker": 6}},
                   {"name": "red", "type": "box", "size": [0.3, 0.3, 0.3], "position": [0.2, -0.3, 0.15],
                    "color": [0.9, 0.1, 0.1]},
                   {"name": "blue", "type": "sphere", "radius": 0.18, "position": [-0.3, 0.3, 0.18], "color": [0.1, 0.2, 0.9]}],
        "cameras": [{"position": [1.6, -1.6, 1.4], "target": [0, 0, 0.1], "resolution": [64, 64]}]})
    return clip_arrays(spec, 0, 8)


def _metrics(model, clip):
    return clip_metrics(model, clip["rgb"], clip["albedo"], clip["segmentation"], [0])["summary"]


def test_reference_scores_perfectly(clip):
    m = _metrics(clip["rgb"], clip)
    assert m["psnr"] > 90 and m["ssim"] > 0.999 and m["iou"] > 0.97 and m["colour_drift"] == m["reference_colour_drift"]


def test_shifted_objects_lower_iou_and_psnr(clip):
    shifted = np.roll(clip["rgb"], 10, axis=2)
    good, bad = _metrics(clip["rgb"], clip), _metrics(shifted, clip)
    assert bad["iou"] < good["iou"] - 0.3 and bad["psnr"] < 25


def test_dropped_object_lowers_iou(clip):
    dropped = clip["rgb"].copy()
    blue = clip["segmentation"] == 2
    floor_colour = np.median(clip["rgb"][clip["segmentation"] == 0], axis=0).astype(np.uint8)
    dropped[blue] = floor_colour
    assert _metrics(dropped, clip)["iou"] < _metrics(clip["rgb"], clip)["iou"] - 0.2


def test_swapped_colours_drift_and_psnr(clip):
    swapped = clip["rgb"].copy()
    swapped[4:] = swapped[4:, ..., ::-1]  # colours change half-way through the clip
    m = _metrics(swapped, clip)
    assert m["colour_drift"] > m["reference_colour_drift"] + 30 and m["psnr_objects"] < 20


def test_noise_lowers_ssim_and_flicker():
    rng = np.random.default_rng(0)
    still = np.full((6, 32, 32, 3), 120, np.uint8)
    noisy = np.clip(still + rng.normal(0, 40, still.shape), 0, 255).astype(np.uint8)
    assert flicker(still) == 1.0 and flicker(noisy) < 0.9
    assert ssim(noisy[0], still[0]) < 0.2 and psnr(noisy, still) < 20


def test_colour_drift_units():
    frames = np.zeros((3, 4, 4, 3), np.uint8)
    seg = np.zeros((3, 4, 4), int)
    frames[1:] = 30  # the object's colour jumps by 30 in each channel after frame 0
    assert colour_drift(frames, seg, [0], min_pixels=1) == pytest.approx(np.sqrt(3) * 30 * 2 / 3)


def _consistency_scene():
    from worldsim.scene import scene_from_dict

    return scene_from_dict({
        "bodies": [{"name": "floor", "type": "plane", "color": [0.6, 0.6, 0.6]},
                   {"name": "red", "type": "box", "size": [0.2, 0.2, 0.2], "position": [0.0, 0.0, 0.1], "color": [0.8, 0.1, 0.1]},
                   {"name": "blue", "type": "sphere", "radius": 0.1, "position": [0.35, 0.1, 0.1], "color": [0.1, 0.2, 0.8]}],
        "cameras": [{"position": [1.0, -1.0, 0.9], "target": [0.1, 0.0, 0.1], "resolution": [160, 160]}],
        "light": {"direction": [0.3, -0.5, 1.0]}})


def _consistency_frames(edit=None):
    from worldsim.physics import PhysicsWorld
    from worldsim.teacher.tiny import render_frame

    with PhysicsWorld(_consistency_scene()) as world:
        truth = render_frame(world)
        if edit is not None:
            edit(world)
        return truth, render_frame(world)


@pytest.mark.parametrize("edit,what", [(lambda w: w.remove("blue"), "dropped"),
                                       (lambda w: w.set_pose("blue", [0.35, 0.2, 0.1]), "shifted 10 cm"),
                                       (lambda w: w.set_pose("red", [0.0, 0.06, 0.1]), "shifted 6 cm")])
def test_consistency_punishes_a_dropped_or_shifted_body(edit, what):
    """Frames drawn after the physics moved or removed a body, scored against the true maps."""
    from worldsim.metrics import boundary_consistency

    truth, same = _consistency_frames()
    score = boundary_consistency(same.rgb, truth.albedo, truth.segmentation)
    assert score > 0.95
    truth, wrong = _consistency_frames(edit)
    assert boundary_consistency(wrong.rgb, truth.albedo, truth.segmentation) < score - 0.1, what
    burnt = clipped(truth.rgb)  # as eval scores it: the reference's clipped pixels left out
    assert boundary_consistency(wrong.rgb, truth.albedo, truth.segmentation, unreadable=burnt) < score - 0.1, what


def _burnt_floor_frames():
    """A 24² frame: a pale body (albedo 200) and a dark one (albedo 40) on a pale floor (albedo 230),
    lit so hard that the floor and the pale body both clip to white, as under Cycles' sun glare."""
    seg = np.zeros((24, 24), np.int64)
    seg[4:10, 4:10], seg[14:20, 14:20] = 1, 2
    albedo = np.full((24, 24, 3), 230, np.uint8)
    albedo[seg == 1], albedo[seg == 2] = 200, 40
    reference = np.full((24, 24, 3), 255, np.uint8)
    reference[seg == 2] = 90
    return reference, albedo, seg


def test_consistency_leaves_out_edges_the_reference_clipped():
    """No step can show between two burnt-white pixels: such pairs are not asked for, so Cycles' own
    frame scores 1, but a model that drops the dark body the reference still shows scores low."""
    from worldsim.metrics import boundary_consistency

    reference, albedo, seg = _burnt_floor_frames()
    burnt = clipped(reference)
    assert burnt[seg == 1].all() and not burnt[seg == 2].any()
    assert boundary_consistency(reference, albedo, seg) < 0.7  # the pale body's edges count as missing
    assert boundary_consistency(reference, albedo, seg, unreadable=burnt) == 1.0
    dropped = reference.copy()
    dropped[seg == 2] = 255  # the dark body vanished
    assert boundary_consistency(dropped, albedo, seg, unreadable=burnt) < 0.6


def test_consistency_mask_comes_from_the_reference_not_the_model():
    """A model that burns its whole frame to white is not excused: the pairs left out are the
    reference's clipped ones, and the dark body's edges are not clipped there."""
    from worldsim.metrics import boundary_consistency

    reference, albedo, seg = _burnt_floor_frames()
    white = np.full_like(reference, 255)
    assert boundary_consistency(white, albedo, seg, unreadable=clipped(reference)) < 0.6
    assert clipped(np.zeros((2, 2, 3), np.uint8)).all() and not clipped(np.full((2, 2, 3), 128, np.uint8)).any()


def test_clip_metrics_scores_consistency_with_the_reference_clipping():
    reference, albedo, seg = _burnt_floor_frames()
    clip = {k: a[None].repeat(3, 0) for k, a in (("rgb", reference), ("albedo", albedo), ("segmentation", seg))}
    m = _metrics(clip["rgb"], clip)
    assert m["reference_consistency"] == 1.0 and m["consistency"] == 1.0


def test_consistency_is_high_on_path_traced_frames():
    """Cycles' own frames score ≥ 0.95 against the maps (the palette IoU gave 0.27 on them)."""
    pytest.importorskip("bpy")
    from worldsim.metrics import boundary_consistency
    from worldsim.physics import PhysicsWorld
    from worldsim.recording import draw_frame
    from worldsim.teacher.cycles import CyclesOptions, CyclesTeacher
    from worldsim.templates import random_scene

    scores = []
    for seed in (3, 11):
        spec = random_scene(seed, 64, 2, look="cycles")
        with PhysicsWorld(spec) as world:
            frame = draw_frame(world, None, None, "raster", lit=False)  # the maps that line up with Cycles
            teacher = CyclesTeacher(world, None, None, CyclesOptions(samples=8))
            try:
                rgb = teacher.render(world)
            finally:
                teacher.close()
        scores.append(boundary_consistency(rgb, frame.albedo, frame.segmentation, unreadable=clipped(rgb)))
    assert np.nanmean(scores) >= 0.95


def test_flip_is_zero_for_identical_frames_and_large_for_a_wrong_one():
    from worldsim.metrics import flip

    frame = np.random.default_rng(0).integers(0, 256, (48, 48, 3)).astype(np.uint8)
    assert flip(frame, frame) == 0.0
    wrong = frame.copy()
    wrong[:, :24] = 255 - wrong[:, :24]  # half the picture inverted
    assert flip(wrong, frame) > 0.2
    assert flip(np.clip(frame.astype(int) + 3, 0, 255).astype(np.uint8), frame) < flip(wrong, frame)


def test_patch_seams_flag_blocks_and_not_noise_or_real_edges(clip):
    """Errors constant over each 8×8 patch (the block artifact) score far above 1; the same size of
    error drawn per pixel, a smooth error and an exact frame do not."""
    from worldsim.metrics import patch_seams

    ref = clip["rgb"].astype(np.int16)
    rng = np.random.default_rng(0)
    t, h, w, _ = ref.shape
    blocks = np.repeat(np.repeat(rng.normal(0, 12, (t, h // 8, w // 8, 3)), 8, axis=1), 8, axis=2)
    pixels = rng.normal(0, 12, ref.shape)
    y, x = np.mgrid[0:h, 0:w]
    smooth = (20 * np.sin(2 * np.pi * x / 23) + 20 * np.cos(2 * np.pi * y / 37))[None, :, :, None] * np.ones(ref.shape)

    def score(error):
        return patch_seams(np.clip(ref + error, 0, 255).astype(np.uint8), clip["rgb"])

    assert score(blocks) > 3.0
    assert 0.8 < score(pixels) < 1.2 and 0.8 < score(smooth) < 1.2
    assert patch_seams(clip["rgb"], clip["rgb"]) == 1.0
    assert _metrics(clip["rgb"], clip)["patch_seams"] == 1.0


def test_patch_ripple_flags_a_grid_and_not_noise_or_smooth_error(clip):
    """A faint ripple with the 8-pixel period (what tents leave on a plain floor) scores about its RMS;
    error eight times larger drawn per pixel, or smooth, scores far less (what is left of it is the
    noise floor of this small clip's 64 patches a frame, and the part of a 23-pixel wave a box of 8
    does not remove), and an exact frame 0."""
    from worldsim.metrics import patch_ripple

    ref = clip["rgb"].astype(np.float32)
    t, h, w, _ = ref.shape
    y, x = np.mgrid[0:h, 0:w]
    ring = (1.5 * np.cos(2 * np.pi * (x + 0.5) / 8) + 1.5 * np.cos(2 * np.pi * (y + 0.5) / 8))[None, :, :, None]
    grid = np.broadcast_to(ring, ref.shape)
    pixels = np.random.default_rng(0).normal(0, 12, ref.shape)
    smooth = np.broadcast_to((20 * np.sin(2 * np.pi * x / 23) + 20 * np.cos(2 * np.pi * y / 37))[None, :, :, None],
                             ref.shape)

    def score(error, base=ref):
        return patch_ripple(np.clip(base + error, 0, 255).round().astype(np.uint8), np.clip(base, 0, 255).astype(np.uint8))

    mid = np.full_like(ref, 128.0)  # no clipping, so the grid's own RMS is what it should score
    assert 1.2 < score(grid, mid) < 1.8  # RMS of the ring: 1.5
    assert score(pixels) < 0.7 and score(smooth, mid) < 0.5
    assert score(grid, mid) > 2 * max(score(pixels), score(smooth, mid))
    assert patch_ripple(clip["rgb"], clip["rgb"]) == 0.0
    assert _metrics(clip["rgb"], clip)["patch_ripple"] == 0.0


@pytest.fixture(scope="module")
def lit_scene():
    """A glossy floor under an area light, a gold sphere, a rough box, and sky above the horizon."""
    spec = scene_from_dict({
        "sim": {"duration": 0.1},
        "bodies": [{"name": "floor", "type": "plane", "roughness": 0.1, "metallic": 0.0, "color": [0.5, 0.5, 0.5]},
                   {"name": "gold", "type": "sphere", "radius": 0.2, "position": [0.3, 0.0, 0.2], "roughness": 0.2,
                    "metallic": 1.0, "color": [0.9, 0.7, 0.2]},
                   {"name": "box", "type": "box", "size": [0.3, 0.3, 0.3], "position": [-0.3, 0.2, 0.15], "roughness": 0.8,
                    "metallic": 0.0}],
        "area_lights": [{"position": [0.0, -0.8, 0.8], "size": 0.4, "power": 80}],
        "cameras": [{"position": [2.0, -2.0, 0.6], "target": [0, 0, 0.2], "resolution": [48, 48]}]})
    return spec, clip_arrays(spec, 0, 2)


def test_surface_kinds_partition_the_pixels_as_the_materials_say(lit_scene):
    from worldsim.evaluate import clip_surfaces

    spec, clip = lit_scene
    masks = clip_surfaces(clip)
    assert set(masks) == set(SURFACES)
    counts = sum(m.astype(int) for m in masks.values())
    assert (counts == 1).all()  # every pixel has exactly one kind
    seg = clip["segmentation"]
    assert np.array_equal(masks["empty"], seg < 0) and masks["empty"].any()
    assert np.array_equal(masks["metal"], seg == 1) and masks["metal"].any()
    assert np.array_equal(masks["rough"], seg == 2) and masks["rough"].any()
    floor = seg == 0
    assert masks["glossy_area_lit"].any() and not (masks["glossy_area_lit"] & ~floor).any()
    assert np.array_equal(masks["glossy_area_lit"] | masks["glossy"], floor)


def test_error_by_surface_finds_where_the_error_sits(lit_scene):
    """A model exact everywhere but on the lit glossy floor: that kind scores badly and holds all the error."""
    from worldsim.evaluate import clip_surfaces

    spec, clip = lit_scene
    masks = clip_surfaces(clip)
    reference = clip["rgb"]
    model = reference.copy()
    model[masks["glossy_area_lit"]] = np.where(model[masks["glossy_area_lit"]] < 128, 255, 0)  # ≥ 128 off per channel
    report = error_by_surface([squared_error_by_surface(model, reference, masks)])
    assert report["glossy_area_lit"]["psnr"] < 7 and report["glossy_area_lit"]["error_share"] == pytest.approx(1.0)
    assert all(report[k]["psnr"] > 90 and report[k]["error_share"] == 0 for k in ("empty", "metal", "glossy", "rough"))
    assert sum(v["pixel_share"] for v in report.values()) == pytest.approx(1.0)
    assert report["glossy_area_lit"]["pixel_share"] == pytest.approx(masks["glossy_area_lit"].mean())


def test_error_by_surface_pools_clips_exactly(lit_scene):
    """Two clips pooled give the PSNR of their pixels together, not the mean of two PSNRs."""
    from worldsim.evaluate import clip_surfaces

    spec, clip = lit_scene
    masks = clip_surfaces(clip)
    rng = np.random.default_rng(0)
    reference = clip["rgb"]
    a = np.clip(reference + rng.normal(0, 4, reference.shape), 0, 255).astype(np.uint8)
    b = np.clip(reference + rng.normal(0, 30, reference.shape), 0, 255).astype(np.uint8)
    pooled = error_by_surface([squared_error_by_surface(m, reference, masks) for m in (a, b)])
    both = np.concatenate([a, b]), np.concatenate([reference, reference])
    rough = np.concatenate([masks["rough"]] * 2)
    assert pooled["rough"]["psnr"] == pytest.approx(psnr(*both, rough))


def test_best_residual_is_the_nearest_shaded_palette_colour():
    """The expanded form equals its definition, min over colours a and clipped shading s of |p − s·a|."""
    rng = np.random.default_rng(3)
    pixels, pal = rng.uniform(0, 255, (500, 3)), rng.uniform(0, 255, (7, 3))
    pal[0] = 0  # a black palette colour: s is undefined, the residual is |p|
    shades = np.linspace(0.15, 1.4, 2001)
    brute = np.linalg.norm(pixels[:, None, None] - shades[None, :, None, None] * pal[None, None], axis=-1).min((1, 2))
    np.testing.assert_allclose(_best_residual(pixels, pal), brute, atol=0.1)  # the grid's step bounds the gap
    assert (_best_residual(pixels, pal) <= brute + 1e-9).all()  # the exact optimum is never worse than a grid point
