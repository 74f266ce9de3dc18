"""Training windows gathered on the device are the numpy path's windows, and training from them resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worldsim.dataset import SHARD_KEYS, load_dataset
from worldsim.windows import DeviceWindows, plan_windows, take_arrays


@pytest.mark.parametrize(("size", "downscale"), [(None, 0.0), (20, 0.0), (12, 1.0), (None, 1.0)])
def test_device_windows_equal_numpy_windows(tiny_dataset, size, downscale):
    arrays = {k: v for k, v in load_dataset(tiny_dataset).items() if k in SHARD_KEYS}
    clips, length, shape = np.arange(arrays["rgb"].shape[0]), arrays["rgb"].shape[1], arrays["rgb"].shape[2:4]
    plan = plan_windows(np.random.default_rng(7), clips, length, shape, batch=5, frames=2, context_prob=0.5,
                        context_frames=2, size=size, downscale_prob=downscale)
    if downscale:
        assert plan.scale in (2, 4)
        size = (size or 32) * plan.scale
        size = min(size, 32) // plan.scale
    expected, got = take_arrays(arrays, plan), DeviceWindows(arrays, torch.device("cpu")).take(plan)
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        assert np.array_equal(np.asarray(value), got[key].numpy()), key
    if size is not None:
        assert got["rgb"].shape[2:4] == (size, size)
        assert not np.array_equal(got["intrinsics"].numpy()[:, :2, 2], arrays["intrinsics"][plan.pick][:, :2, 2])


def test_training_from_device_windows_resumes_exactly(tiny_dataset, tmp_path):
    """Colour permutation, light gain (the Cycles look's inputs) and downscaled batches on: their draws are the step's too."""
    from worldsim.checkpoint import load_tensors
    from worldsim.train import TrainConfig, train

    def cfg(out, steps):
        return TrainConfig(data=str(tiny_dataset), out=str(out), preset="tiny", steps=steps, batch=2, warmup=2,
                           log_every=1, checkpoint_every=2, sample_every=100, val_clips=1, crop=24,
                           data_on_device="on", colour_permutation=0.5, pbr=True, light_gain=0.5,
                           downscale=0.5)

    train(cfg(tmp_path / "straight", 4), progress=False)
    train(cfg(tmp_path / "killed", 2), progress=False)
    train(cfg(tmp_path / "killed", 4), resume=True, progress=False)
    a, _ = load_tensors(tmp_path / "straight" / "train_state.safetensors")
    b, meta = load_tensors(tmp_path / "killed" / "train_state.safetensors")
    assert meta["step"] == 4
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_plan_without_downscale_draws_what_it_always_did():
    """Downscale's draws come last: off, the plan is the one drawn before the option existed; on, the
    clips, frames and colour orders are the same and only the crop and scale change."""
    args = (np.arange(6), 8, (32, 32)), dict(batch=4, frames=2, context_prob=0.5, size=16, colour_permutation=0.5)
    base = plan_windows(np.random.default_rng(3), *args[0], **args[1])
    off = plan_windows(np.random.default_rng(3), *args[0], **args[1], downscale_prob=0.0)
    on = plan_windows(np.random.default_rng(3), *args[0], **args[1], downscale_prob=1.0, downscale_factors=(2,))
    for field in ("pick", "frames", "before", "has_context", "top", "left", "colours"):
        assert np.array_equal(getattr(base, field), getattr(off, field)), field
    assert np.array_equal(base.pick, on.pick) and np.array_equal(base.colours, on.colours)
    assert (base.scale, base.size) == (1, (16, 16)) and (on.scale, on.size) == (2, (32, 32))
