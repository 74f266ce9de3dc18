"""Training windows gathered on the device are the numpy path's windows, and training from them resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worldsim.dataset import SHARD_KEYS, load_dataset
from worldsim.windows import DeviceWindows, plan_windows, take_arrays


@pytest.mark.parametrize("size", [None, 20])
def test_device_windows_equal_numpy_windows(tiny_dataset, size):
    arrays = {k: v for k, v in load_dataset(tiny_dataset).items() if k in SHARD_KEYS}
    clips, length, shape = np.arange(arrays["rgb"].shape[0]), arrays["rgb"].shape[1], arrays["rgb"].shape[2:4]
    plan = plan_windows(np.random.default_rng(7), clips, length, shape, batch=5, frames=2, context_prob=0.5,
                        context_frames=2, size=size)
    expected, got = take_arrays(arrays, plan), DeviceWindows(arrays, torch.device("cpu")).take(plan)
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        assert np.array_equal(np.asarray(value), got[key].numpy()), key
    if size is not None:
        assert got["rgb"].shape[2:4] == (size, size)
        assert not np.array_equal(got["intrinsics"].numpy()[:, :2, 2], arrays["intrinsics"][plan.pick][:, :2, 2])


def test_training_from_device_windows_resumes_exactly(tiny_dataset, tmp_path):
    """Colour permutation and light gain on (the Cycles look's inputs): their draws are the step's too."""
    from worldsim.checkpoint import load_tensors
    from worldsim.train import TrainConfig, train

    def cfg(out, steps):
        return TrainConfig(data=str(tiny_dataset), out=str(out), preset="tiny", steps=steps, batch=2, warmup=2,
                           log_every=1, checkpoint_every=2, sample_every=100, val_clips=1, crop=24,
                           data_on_device="on", colour_permutation=0.5, pbr=True, light_gain=0.5)

    train(cfg(tmp_path / "straight", 4), progress=False)
    train(cfg(tmp_path / "killed", 2), progress=False)
    train(cfg(tmp_path / "killed", 4), resume=True, progress=False)
    a, _ = load_tensors(tmp_path / "straight" / "train_state.safetensors")
    b, meta = load_tensors(tmp_path / "killed" / "train_state.safetensors")
    assert meta["step"] == 4
    for key in a:
        assert torch.equal(a[key], b[key]), key
