"""Dataset generation: documented arrays, resume without loss or duplicates, clear errors on bad shards."""

from __future__ import annotations

import numpy as np
import pytest

from worldsim.dataset import SHARD_KEYS, generate, load_dataset, read_shard, shard_path
from worldsim.errors import ConfigError, DataError


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


def test_a_range_of_shards_makes_those_shards_and_they_equal_the_whole_runs(tiny_dataset, tmp_path, capsys):
    """Two machines (or sessions) splitting a dataset by ``shards`` make what one run makes."""
    args = dict(frames=16, resolution=32, workers=1, seed=5, frames_per_clip=4, clips_per_shard=2, progress=False)
    split = tmp_path / "split"
    generate(split, shards=(1, None), **args)
    assert [p.name for p in sorted(split.glob("shard_*.npz"))] == ["shard_00001.npz"]
    generate(split, shards=(0, 1), **args)
    for i in range(2):
        whole, part = read_shard(shard_path(tiny_dataset, i)), read_shard(shard_path(split, i))
        for key in SHARD_KEYS:
            assert np.array_equal(whole[key], part[key]), (i, key)
    generate(split, shards=(1, None), **{**args, "progress": True})  # nothing left to make
    assert "dataset shards 1-1 of 2" in capsys.readouterr().err  # an open range says where it stops
    for bad in [(2, None), (1, 1), (0, 3), (-1, 1)]:  # past the end, empty, too long, negative
        fresh = tmp_path / f"bad{bad[0]}_{bad[1]}"
        with pytest.raises(ConfigError, match="within the dataset's 2 shards"):
            generate(fresh, shards=bad, **args)
        assert not any(fresh.iterdir())  # refused before anything is written


def test_loading_fills_the_shards_in_order_and_refuses_one_that_disagrees(tiny_dataset, tmp_path):
    """The dataset is the shards concatenated along the clip axis (sized from their headers first);
    a shard of another frame size is refused, naming it, and so is a truncated one."""
    import shutil

    from worldsim.io import npz_shapes, save_npz

    shards = [read_shard(shard_path(tiny_dataset, i)) for i in range(2)]
    loaded = load_dataset(tiny_dataset)
    for key in SHARD_KEYS:
        assert np.array_equal(loaded[key], np.concatenate([s[key] for s in shards])), key
        assert loaded[key].dtype == shards[0][key].dtype
    assert npz_shapes(shard_path(tiny_dataset, 0))["rgb"] == (shards[0]["rgb"].shape, np.dtype(np.uint8))
    mixed = tmp_path / "mixed"
    shutil.copytree(tiny_dataset, mixed)
    save_npz(shard_path(mixed, 1), **{**shards[1], "rgb": np.zeros((2, 4, 16, 16, 3), np.uint8)})
    with pytest.raises(DataError, match="shard_00001.npz: rgb"):
        load_dataset(mixed)
    shard_path(mixed, 1).write_bytes(shard_path(tiny_dataset, 1).read_bytes()[:300])
    with pytest.raises(DataError, match="shard_00001.npz"):
        load_dataset(mixed)


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


def test_shards_carry_every_condition_array_and_nothing_per_object(tiny_dataset):
    shard = read_shard(shard_path(tiny_dataset, 0))
    assert set(shard) == set(SHARD_KEYS)
    assert shard["pbr"].shape == (2, 4, 32, 32, 3) and shard["pbr"].dtype == np.uint8
    assert shard["area_light"].shape == (2, 4, 32, 32, 3) and shard["environment"].shape == (2, 9)
    assert (shard["pbr"][shard["segmentation"] < 0] == 0).all()


def test_a_heldout_dataset_is_not_the_train_dataset(tiny_dataset, tmp_path):
    generate(tmp_path, frames=8, resolution=32, workers=1, seed=5, frames_per_clip=4, clips_per_shard=2,
             progress=False, split="heldout")
    assert not np.array_equal(read_shard(shard_path(tmp_path, 0))["albedo"], read_shard(shard_path(tiny_dataset, 0))["albedo"])
    with pytest.raises(DataError, match="split"):
        generate(tmp_path, frames=8, resolution=32, workers=1, seed=5, frames_per_clip=4, clips_per_shard=2, progress=False)


def test_a_cycles_dataset_in_a_tiny_directory_is_refused(tiny_dataset):
    pytest.importorskip("bpy")
    with pytest.raises(DataError, match="teacher"):
        generate(tiny_dataset, frames=16, resolution=32, workers=1, seed=5, frames_per_clip=4, clips_per_shard=2,
                 progress=False, teacher="cycles")


def test_cycles_dataset_shard(tmp_path):
    """A Cycles shard: path-traced rgb, and maps from the raster pass (Cycles' own triangles): the same
    scenes and motion as a TinyRenderer shard, whose maps differ only where PyBullet tessellates coarser."""
    from worldsim.dataset import shard_map_pass

    pytest.importorskip("bpy")
    generate(tmp_path / "c", frames=4, resolution=32, workers=1, seed=5, frames_per_clip=2, clips_per_shard=2,
             progress=False, teacher="cycles", samples=4)
    generate(tmp_path / "t", frames=4, resolution=32, workers=1, seed=5, frames_per_clip=2, clips_per_shard=2,
             progress=False)
    cyc, tiny = read_shard(shard_path(tmp_path / "c", 0)), read_shard(shard_path(tmp_path / "t", 0))
    assert np.mean(cyc["segmentation"] == tiny["segmentation"]) > 0.97  # same scenes, bodies and motion
    assert shard_map_pass(shard_path(tmp_path / "c", 0)) == "raster" and shard_map_pass(shard_path(tmp_path / "t", 0)) == "tiny"
    assert not np.array_equal(cyc["rgb"], tiny["rgb"])
    assert not np.array_equal(cyc["environment"], tiny["environment"])  # the Cycles scenes vary the lighting


def test_shards_made_before_area_specular_get_it_when_generation_resumes(tiny_dataset, tmp_path):
    """An old shard is refused with the command that upgrades it; rerunning `worldsim dataset` adds
    the array (rebuilt from each clip's scene) without touching the others, and a clip whose rebuilt
    scene lights it differently than its stored maps say is refused by shard and clip."""
    import shutil

    from worldsim.io import save_npz

    copy = tmp_path / "copy"
    shutil.copytree(tiny_dataset, copy)
    original = read_shard(shard_path(copy, 1))
    old = {k: v for k, v in original.items() if k != "area_specular"}
    save_npz(shard_path(copy, 1), **old)
    with pytest.raises(DataError, match="made before area_specular"):
        read_shard(shard_path(copy, 1))
    mtime = shard_path(copy, 0).stat().st_mtime_ns
    generate(copy, frames=16, resolution=32, workers=1, seed=5, frames_per_clip=4, clips_per_shard=2, progress=False)
    upgraded = read_shard(shard_path(copy, 1))
    assert shard_path(copy, 0).stat().st_mtime_ns == mtime
    assert upgraded.keys() == original.keys()
    for key in original:
        assert np.array_equal(upgraded[key], original[key]), key
    save_npz(shard_path(copy, 1), **{**old, "area_light": old["area_light"] + np.float16(3.0)})
    with pytest.raises(DataError, match="shard_00001.npz: clip 0"):
        generate(copy, frames=16, resolution=32, workers=1, seed=5, frames_per_clip=4, clips_per_shard=2, progress=False)


def test_shards_whose_maps_another_pass_drew_are_redrawn_keeping_their_frames(tiny_dataset, tmp_path):
    """A dataset whose maps should come from another pass (a Cycles dataset made before the raster pass)
    gets every shard's maps redrawn from its rebuilt scenes, the frames untouched, once; a mix of
    passes is refused at load, and a clip whose rebuilt scene shows other bodies is refused by name."""
    import json
    import shutil
    from dataclasses import replace

    from worldsim.dataset import DatasetConfig, clip_arrays, remap_shards, scene_seed, shard_map_pass
    from worldsim.io import save_npz
    from worldsim.templates import random_scene

    copy = tmp_path / "copy"
    shutil.copytree(tiny_dataset, copy)
    config = replace(DatasetConfig(**json.loads((copy / "dataset.json").read_text())), map_pass="raster")
    before = [read_shard(shard_path(copy, i)) for i in range(2)]
    assert remap_shards(config, copy, progress=False) == 2
    assert remap_shards(config, copy, progress=False) == 0  # done once
    after = read_shard(shard_path(copy, 1))
    assert shard_map_pass(shard_path(copy, 1)) == "raster" and shard_map_pass(shard_path(tiny_dataset, 1)) == "tiny"
    np.testing.assert_array_equal(after["rgb"], before[1]["rgb"])
    s = scene_seed(config.seed, 1, 1, config.clips_per_shard)
    spec = random_scene(s, config.resolution, config.frames_per_clip, split=config.split)
    redrawn = clip_arrays(spec, s, config.frames_per_clip, teacher="none", map_pass="raster")
    for key in ("segmentation", "albedo", "depth", "light_visibility", "area_light"):
        np.testing.assert_array_equal(after[key][1], redrawn[key], err_msg=key)

    save_npz(shard_path(copy, 0), **before[0])  # an old shard back among redrawn ones
    with pytest.raises(DataError, match="shard_00000.npz's maps were drawn by the tiny pass, shard_00001.npz's by the raster"):
        load_dataset(copy)
    save_npz(shard_path(copy, 0), **{**before[0], "segmentation": before[0]["segmentation"][::-1]})  # clips swapped
    with pytest.raises(DataError, match="shard_00000.npz: clip 0: its scene, rebuilt from seed"):
        remap_shards(config, copy, progress=False)


def test_append_npz_adds_arrays_and_keeps_the_rest(tmp_path):
    from worldsim.io import append_npz, load_npz, save_npz

    path = tmp_path / "a.npz"
    save_npz(path, x=np.arange(6).reshape(2, 3))
    append_npz(path, y=np.ones((2, 2), np.float16))
    out = load_npz(path)
    assert np.array_equal(out["x"], np.arange(6).reshape(2, 3)) and out["y"].dtype == np.float16
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]  # no temporary file left
