"""What each pixel mirrors, worked out once per clip: in RAM, or kept in the data cache, where it
follows the cache shard by shard and a killed run resumes where it stopped."""

from __future__ import annotations

import json
import shutil

import numpy as np

from worldsim import derived
from worldsim.dataset import load_dataset
from worldsim.derived import MIRROR, mirror_array


def _counting(monkeypatch) -> list[int]:
    """Record how many clips each call works out."""
    made, real = [], derived._mirror_clips

    def counted(arrays, start, stop):
        made.append(stop - start)
        return real(arrays, start, stop)
    monkeypatch.setattr(derived, "_mirror_clips", counted)
    return made


def _one_shard(tiny_dataset, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy2(sorted(tiny_dataset.glob("shard_*.npz"))[0], data)
    shutil.copy2(tiny_dataset / "dataset.json", data)
    return data


def test_the_cached_mirror_is_the_one_worked_out_in_ram_and_is_not_made_twice(tiny_dataset, tmp_path, monkeypatch):
    arrays = load_dataset(tiny_dataset)
    in_ram = mirror_array(arrays, progress=False)
    clips, frames, height, width = arrays["rgb"].shape[:4]
    assert in_ram.shape == (clips, frames, height, width, 3) and in_ram.dtype == np.float16
    assert ((in_ram[..., 0] < 0) | (arrays["segmentation"] >= 0)).all()  # empty pixels mirror nothing
    assert (in_ram[..., 0] >= 0).sum() > 100  # glossy floors mirror the bodies on them
    cache = tmp_path / "cache"
    cached = mirror_array(load_dataset(tiny_dataset, cache=cache), cache, progress=False)
    assert isinstance(cached, np.memmap) and np.array_equal(cached, in_ram)
    made = _counting(monkeypatch)
    again = mirror_array(load_dataset(tiny_dataset, cache=cache), cache, progress=False)
    assert made == [] and np.array_equal(again, in_ram)


def test_a_grown_dataset_adds_only_its_new_shards_and_other_settings_make_it_again(tiny_dataset, tmp_path, monkeypatch):
    data, cache = _one_shard(tiny_dataset, tmp_path), tmp_path / "cache"
    mirror_array(load_dataset(data, cache=cache), cache, progress=False)
    shutil.copy2(sorted(tiny_dataset.glob("shard_*.npz"))[1], data)
    made = _counting(monkeypatch)
    grown = mirror_array(load_dataset(data, cache=cache), cache, progress=False)
    second = json.loads((cache / "cache.json").read_text())["shards"][1][3]
    assert made == [second] and np.array_equal(grown, mirror_array(load_dataset(tiny_dataset), progress=False))
    monkeypatch.setattr("worldsim.conditioning.screen_reflection.ROUGHNESS_LIMIT", 0.25)
    made.clear()
    mirror_array(load_dataset(data, cache=cache), cache, progress=False)
    assert sum(made) == grown.shape[0]


def test_a_run_killed_while_making_it_resumes_at_the_first_shard_not_listed(tiny_dataset, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    whole = mirror_array(load_dataset(tiny_dataset, cache=cache), cache, progress=False)
    listed = json.loads((cache / f"{MIRROR}.json").read_text())
    first = listed["shards"][0][3]
    # killed after the second shard's bytes, before its manifest entry: the bytes are there, unlisted
    (cache / f"{MIRROR}.json").write_text(json.dumps({**listed, "shards": listed["shards"][:1]}))
    made = _counting(monkeypatch)
    again = mirror_array(load_dataset(tiny_dataset, cache=cache), cache, progress=False)
    assert made == [whole.shape[0] - first] and np.array_equal(again, whole)
    (cache / f"{MIRROR}.json").write_text("{torn")
    made.clear()
    assert np.array_equal(mirror_array(load_dataset(tiny_dataset, cache=cache), cache, progress=False), whole)
    assert sum(made) == whole.shape[0]
