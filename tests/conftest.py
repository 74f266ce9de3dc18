"""Shared fixtures: the bundled scenes and a throwaway cache directory."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENE_DIR = ROOT / "scenes"
SCENES = sorted(SCENE_DIR.glob("*.yaml"))


@pytest.fixture(autouse=True, scope="session")
def _cache(tmp_path_factory):
    """Keep converted meshes and textures out of the user's home during tests."""
    import os

    os.environ["WORLDSIM_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A 2-shard, 32x32 dataset generated once per test session."""
    from worldsim.dataset import generate

    out = tmp_path_factory.mktemp("data")
    generate(out, frames=16, resolution=32, workers=1, seed=5, frames_per_clip=4, clips_per_shard=2, progress=False)
    return out
