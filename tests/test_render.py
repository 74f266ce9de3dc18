"""The learned renderer as users call it: any clip length, same seed same frames, the CLI's four outputs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from worldsim.conditioning.arrays import CLIP_KEYS
from worldsim.dataset import read_shard, shard_path
from worldsim.render import Renderer
from worldsim.train import TrainConfig, train

from .conftest import ROOT


def test_streams_clips_longer_than_the_window(tiny_dataset, tmp_path):
    train(TrainConfig(data=str(tiny_dataset), out=str(tmp_path), preset="tiny", steps=1, batch=1, val_clips=1),
          progress=False)
    renderer = Renderer(str(tmp_path / "checkpoint.safetensors"), steps=1)
    shard = read_shard(shard_path(tiny_dataset, 0))
    clip = {k: v[0] for k, v in shard.items() if k != "rgb"}
    clip = {k: (v if k in CLIP_KEYS else np.concatenate([v, v[::-1]])) for k, v in clip.items()}  # 8 frames: four windows of two
    a = renderer.render_clip(clip, seed=1)
    b = renderer.render_clip(clip, seed=1)
    assert a.shape == (8, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, renderer.render_clip(clip, seed=2))


def test_render_cli_with_default_checkpoint(tmp_path):
    result = subprocess.run([sys.executable, "-m", "worldsim.cli", "render", str(ROOT / "scenes" / "tower_topple.yaml"),
                             "--out", str(tmp_path), "--seconds", "0.3", "--steps", "1"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for name in ("model.mp4", "reference.mp4", "side_by_side.mp4"):
        assert (tmp_path / name).stat().st_size > 0
    frames = np.load(tmp_path / "frames.npz")
    assert frames["model"].shape == frames["reference"].shape == (8, 64, 64, 3)
    assert "PSNR" in result.stdout and "IoU" in result.stdout
