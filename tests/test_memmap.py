"""The memory-mapped data cache: the same arrays as RAM, kept up to date as the dataset grows or changes,
and nothing read from a copy a killed run left half written."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch

from worldsim.checkpoint import load_tensors
from worldsim.dataset import load_dataset
from worldsim.errors import ConfigError, DataError
from worldsim.memmap import MANIFEST
from worldsim.train import TrainConfig, train


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _copy_shards(src, dst, n):
    dst.mkdir()
    for path in sorted(src.glob("shard_*.npz"))[:n]:
        shutil.copy2(path, dst / path.name)
    shutil.copy2(src / "dataset.json", dst / "dataset.json")


def test_the_cache_maps_the_same_arrays_the_ram_load_holds(tiny_dataset, tmp_path):
    cached = load_dataset(tiny_dataset, cache=tmp_path / "cache")
    assert all(isinstance(v, np.memmap) and not v.flags.writeable for v in cached.values())
    assert _equal(cached, load_dataset(tiny_dataset))
    again = load_dataset(tiny_dataset, cache=tmp_path / "cache")  # held: mapped, not copied again
    assert _equal(again, cached)


def test_new_shards_are_appended_and_fewer_shards_map_a_prefix(tiny_dataset, tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    _copy_shards(tiny_dataset, data, 1)
    one = load_dataset(data, cache=cache)
    assert _equal(one, load_dataset(tiny_dataset, max_shards=1))
    shutil.copy2(sorted(tiny_dataset.glob("shard_*.npz"))[1], data)
    both = load_dataset(data, cache=cache)
    assert _equal(both, load_dataset(tiny_dataset)) and len(json.loads((cache / MANIFEST).read_text())["shards"]) == 2
    first = load_dataset(data, max_shards=1, cache=cache)
    assert _equal(first, one) and len(json.loads((cache / MANIFEST).read_text())["shards"]) == 2  # nothing cut


def test_a_changed_shard_is_copied_again_with_every_shard_after_it(tiny_dataset, tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    _copy_shards(tiny_dataset, data, 2)
    load_dataset(data, cache=cache)
    first, second = sorted(data.glob("shard_*.npz"))
    shutil.copy2(second, first)  # shard 0 now holds shard 1's clips
    os.utime(first, ns=(1, 1))
    got = load_dataset(data, cache=cache)
    expected = load_dataset(tiny_dataset, max_shards=2)
    n = expected["rgb"].shape[0] // 2
    assert np.array_equal(got["rgb"][:n], expected["rgb"][n:]) and np.array_equal(got["rgb"][n:], expected["rgb"][n:])


def test_bytes_a_killed_copy_left_past_the_manifest_are_cut(tiny_dataset, tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    _copy_shards(tiny_dataset, data, 1)
    load_dataset(data, cache=cache)
    n = load_dataset(data, cache=cache)["rgb"].shape[0]
    for path in cache.glob("*.npy"):  # a kill after one more clip's bytes (and rgb's header) but before the manifest
        arr = np.load(path, mmap_mode="r")
        descr, clip = arr.dtype.str, arr.nbytes // n
        shape = arr.shape[1:]
        del arr
        with open(path, "r+b") as fh:
            fh.seek(0, os.SEEK_END)
            fh.write(b"\xff" * clip)
            if path.name == "rgb.npy":
                fh.seek(0)
                np.lib.format.write_array_header_1_0(fh, {"descr": descr, "fortran_order": False,
                                                          "shape": (n + 1, *shape)})
    assert np.load(cache / "rgb.npy", mmap_mode="r").shape[0] == n + 1
    assert _equal(load_dataset(data, cache=cache), load_dataset(tiny_dataset, max_shards=1))  # held: the manifest's n
    shutil.copy2(sorted(tiny_dataset.glob("shard_*.npz"))[1], data)
    got = load_dataset(data, cache=cache)
    assert got["rgb"].shape[0] == 2 * n and _equal(got, load_dataset(tiny_dataset))


def test_a_directory_that_is_not_a_cache_is_refused_and_a_pack_cannot_be_cached(tiny_dataset, tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "rgb.npy").write_bytes(b"a user's file")
    with pytest.raises(DataError, match=r"mine: not a worldsim data cache"):
        load_dataset(tiny_dataset, cache=other)
    assert (other / "rgb.npy").read_bytes() == b"a user's file"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / MANIFEST).write_text("{not json")
    with pytest.raises(DataError, match=r"broken/cache.json: unreadable"):
        load_dataset(tiny_dataset, cache=broken)
    from worldsim.pack import pack

    pack(tiny_dataset, tmp_path / "pack", progress=False)
    with pytest.raises(ConfigError, match=r"is a pack"):
        load_dataset(tmp_path / "pack", cache=tmp_path / "cache")


def test_a_run_on_the_cache_takes_exactly_the_steps_of_a_run_in_ram(tiny_dataset, tmp_path):
    kw = {"preset": "tiny", "batch": 2, "warmup": 2, "log_every": 1, "checkpoint_every": 2, "sample_every": 100,
          "val_clips": 1, "steps": 3, "crop": 16}
    train(TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "ram"), **kw), progress=False)
    train(TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "mapped"), data_cache=str(tmp_path / "c"), **kw),
          progress=False)
    a, _ = load_tensors(tmp_path / "ram" / "train_state.safetensors")
    b, meta = load_tensors(tmp_path / "mapped" / "train_state.safetensors")
    assert meta["config"]["data_cache"] == str(tmp_path / "c") and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_loading_shows_a_bar_over_the_shards_unless_told_not_to(tiny_dataset, tmp_path, capsys):
    """Only DDP's rank 0 reports its loading; the other ranks map the same cache quietly."""
    load_dataset(tiny_dataset, progress=False)
    load_dataset(tiny_dataset, cache=tmp_path / "cache", progress=False)
    assert capsys.readouterr().err == ""
    load_dataset(tiny_dataset)
    load_dataset(tiny_dataset, cache=tmp_path / "other")
    err = capsys.readouterr().err
    assert f"loading {tiny_dataset}" in err and "data cache" in err


def test_a_cache_missing_an_array_file_is_rebuilt(tiny_dataset, tmp_path):
    load_dataset(tiny_dataset, cache=tmp_path / "cache")
    (tmp_path / "cache" / "depth.npy").unlink()
    assert _equal(load_dataset(tiny_dataset, cache=tmp_path / "cache"), load_dataset(tiny_dataset))


def test_a_dataset_larger_than_the_memory_left_is_refused_by_name_pointing_to_the_cache(tiny_dataset, tmp_path,
                                                                                         monkeypatch):
    import worldsim.dataset as dataset

    in_ram = load_dataset(tiny_dataset)
    size = sum(v.nbytes for v in in_ram.values())
    monkeypatch.setattr(dataset, "available_memory", lambda: size - 1)
    with pytest.raises(DataError, match=rf"{tiny_dataset}: its shards take .* --data-cache"):
        load_dataset(tiny_dataset)
    assert _equal(load_dataset(tiny_dataset, cache=tmp_path / "c"), in_ram)  # the cache holds any size
    monkeypatch.setattr(dataset, "available_memory", lambda: size)
    assert _equal(load_dataset(tiny_dataset), in_ram)


def test_clips_another_run_maps_are_not_cut_under_it_but_new_shards_still_append(tiny_dataset, tmp_path):
    import fcntl

    from worldsim.memmap import READERS

    data, cache = tmp_path / "data", tmp_path / "cache"
    _copy_shards(tiny_dataset, data, 1)
    load_dataset(data, cache=cache)
    with open(cache / READERS, "a") as other_run:  # another process's training, mapping the cache
        fcntl.flock(other_run, fcntl.LOCK_SH)
        shutil.copy2(sorted(tiny_dataset.glob("shard_*.npz"))[1], data)
        assert _equal(load_dataset(data, cache=cache), load_dataset(tiny_dataset))  # an append cuts nothing
        first = sorted(data.glob("shard_*.npz"))[0]
        os.utime(first, ns=(1, 1))  # shard 0 changed: everything after it would be redone
        with pytest.raises(DataError, match=r"another process is training on them"):
            load_dataset(data, cache=cache)
    assert _equal(load_dataset(data, cache=cache), load_dataset(tiny_dataset))  # once it has finished
