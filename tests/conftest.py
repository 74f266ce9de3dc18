"""Shared fixtures: the bundled scenes and a throwaway cache directory."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENES = sorted((ROOT / "scenes").glob("*.yaml"))


@pytest.fixture(autouse=True, scope="session")
def _cache(tmp_path_factory):
    """Keep converted meshes and textures out of the user's home during tests."""
    import os

    os.environ["WORLDSIM_CACHE"] = str(tmp_path_factory.mktemp("cache"))
