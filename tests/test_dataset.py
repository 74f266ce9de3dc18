"""Dataset generation: documented arrays, resume without loss or duplicates, clear errors on bad shards."""

from __future__ import annotations

import numpy as np
import pytest

from worldsim.dataset import SHARD_KEYS, generate, read_shard, shard_path
from worldsim.errors import DataError


def test_shards_hold_documented_arrays(tiny_dataset):
    shard = read_shard(shard_path(tiny_dataset, 0))
    assert set(SHARD_KEYS) <= set(shard)
    assert shard["rgb"].shape == (2, 4, 32, 32, 3) and shard["rgb"].dtype == np.uint8
    assert shard["segmentation"].shape == (2, 4, 32, 32) and shard["light"].shape == (2, 10)


def test_resume_regenerates_exactly_the_missing_shard(tiny_dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_dataset, copy)
    before = read_shard(shard_path(copy, 1))
    shard_path(copy, 1).unlink()  # as if the run was killed before writing it
    (copy / ".shard_00001.npz.tmp999").write_bytes(b"partial")  # and left a temporary file behind
    mtime = shard_path(copy, 0).stat().st_mtime_ns
    generate(copy, frames=16, resolution=32, workers=1, seed=5, frames_per_clip=4, clips_per_shard=2, progress=False)
    assert shard_path(copy, 0).stat().st_mtime_ns == mtime  # finished shards are not redone
    after = read_shard(shard_path(copy, 1))
    for key in SHARD_KEYS:
        assert np.array_equal(before[key], after[key]), key
    assert len(list(copy.glob("shard_*.npz"))) == 2


def test_other_settings_in_same_directory_refused(tiny_dataset):
    with pytest.raises(DataError, match="other settings"):
        generate(tiny_dataset, frames=16, resolution=64, workers=1, seed=5, frames_per_clip=4, clips_per_shard=2,
                 progress=False)


def test_truncated_shard_is_a_clear_error(tiny_dataset, tmp_path):
    bad = tmp_path / "shard_00000.npz"
    bad.write_bytes(shard_path(tiny_dataset, 0).read_bytes()[:5000])
    with pytest.raises(DataError, match="shard_00000.npz"):
        read_shard(bad)


def test_pickled_shard_is_refused(tmp_path):
    bad = tmp_path / "shard_00000.npz"
    np.savez(bad, rgb=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(DataError, match="pickled"):
        read_shard(bad)


def test_shards_carry_the_cycles_look_conditions(tiny_dataset):
    from worldsim.dataset import PBR_KEYS

    shard = read_shard(shard_path(tiny_dataset, 0))
    assert set(PBR_KEYS) <= set(shard)
    assert shard["pbr"].shape == (2, 4, 32, 32, 3) and shard["pbr"].dtype == np.uint8
    assert shard["area_light"].shape == (2, 4, 32, 32, 3) and shard["environment"].shape == (2, 9)
    assert (shard["pbr"][shard["segmentation"] < 0] == 0).all()


def test_pbr_map_reads_each_body_surface_with_material_defaults():
    from worldsim.dataset import pbr_map
    from worldsim.materials import PBR_DEFAULTS
    from worldsim.scene import scene_from_dict

    spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane"},
                                       {"name": "a", "type": "sphere", "radius": 0.1, "material": "metal"},
                                       {"name": "b", "type": "sphere", "radius": 0.1, "roughness": 0.2, "metallic": 0.0}]})
    seg = np.array([[-1, 0, 1, 2]])
    out = pbr_map(spec, seg)
    assert out[0, 0].tolist() == [0, 0, 0]
    assert out[0, 2].tolist() == [round(v * 255) for v in PBR_DEFAULTS["metal"]]
    assert out[0, 3].tolist() == [51, 0, round(PBR_DEFAULTS["default"][2] * 255)]


def test_area_light_irradiance_matches_the_inverse_square_law():
    """Straight below a downward light of P watts at height d: E = P / (pi d^2); at 45 deg off axis, cos^2 / r^2."""
    from worldsim.dataset import area_light_map
    from worldsim.scene import scene_from_dict

    spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane"}],
                            "area_lights": [{"position": [0, 0, 2.0], "target": [0, 0, 0], "power": 100.0}]})
    pos = np.array([[[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]], np.float32)
    normals = np.array([[[0, 0, 1.0], [0, 0, 1.0]]], np.float32)
    e = area_light_map(spec, pos, normals)[..., 0]
    assert e[0, 0] == pytest.approx(100 / (np.pi * 4), rel=1e-4)
    assert e[0, 1] == pytest.approx(100 * 0.5 / (np.pi * 8), rel=1e-4)
    assert area_light_map(spec, pos, np.zeros_like(normals)).max() == 0  # empty pixels get nothing


def test_a_cycles_dataset_in_a_tiny_directory_is_refused(tiny_dataset):
    pytest.importorskip("bpy")
    with pytest.raises(DataError, match="teacher"):
        generate(tiny_dataset, frames=16, resolution=32, workers=1, seed=5, frames_per_clip=4, clips_per_shard=2,
                 progress=False, teacher="cycles")


def test_cycles_dataset_shard(tmp_path):
    """A Cycles shard: path-traced rgb, the same maps as a TinyRenderer shard of the same scenes."""
    pytest.importorskip("bpy")
    generate(tmp_path / "c", frames=4, resolution=32, workers=1, seed=5, frames_per_clip=2, clips_per_shard=2,
             progress=False, teacher="cycles", samples=4)
    generate(tmp_path / "t", frames=4, resolution=32, workers=1, seed=5, frames_per_clip=2, clips_per_shard=2,
             progress=False)
    cyc, tiny = read_shard(shard_path(tmp_path / "c", 0)), read_shard(shard_path(tmp_path / "t", 0))
    assert np.array_equal(cyc["segmentation"], tiny["segmentation"])  # same scenes, bodies and motion
    assert not np.array_equal(cyc["rgb"], tiny["rgb"])
    assert not np.array_equal(cyc["environment"], tiny["environment"])  # the Cycles scenes vary the lighting
