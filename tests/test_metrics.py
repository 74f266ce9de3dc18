"""Every metric punishes a bad input: shifted objects, swapped colours, noise, a dropped object."""

from __future__ import annotations

import numpy as np
import pytest

from worldsim.dataset import clip_arrays
from worldsim.metrics import clip_metrics, colour_drift, flicker, psnr, ssim
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
