"""``worldsim train --recipe``: a checkpoint's training options as the command's defaults."""

from __future__ import annotations

import pytest
import torch

from worldsim.checkpoint import load_meta, resolve_checkpoint, save_tensors
from worldsim.cli import main
from worldsim.errors import ConfigError
from worldsim.recipe import RECIPE_FIELDS, recipe_defaults


def _checkpoint(path, train: dict | None) -> str:
    """A checkpoint whose JSON holds ``train`` as its training record (the weights do not matter here)."""
    save_tensors(path, {"w": torch.zeros(1)}, {} if train is None else {"train": train})
    return str(path)


@pytest.fixture
def captured(monkeypatch):
    """The TrainConfig ``worldsim train`` would run, instead of running it."""
    import worldsim.train

    seen = {}

    def fake_train(cfg, resume=False):
        seen["cfg"] = cfg
        return {}

    monkeypatch.setattr(worldsim.train, "train", fake_train)
    return seen


def test_the_shipped_default_recipe_is_the_one_its_json_records():
    record = load_meta(resolve_checkpoint("cycles"))["train"]
    recipe = recipe_defaults("cycles")
    assert {k: recipe[k] for k in RECIPE_FIELDS} == {k: tuple(v) if isinstance(v, list) else v
                                                     for k, v in record.items() if k in RECIPE_FIELDS}
    assert recipe["look"] == "cycles" and recipe["pure_video"] is False
    assert recipe["mean_start"] > 0 and recipe["clipped_loss"] and recipe["colour_permutation"] > 0


def test_train_takes_the_recipe_and_the_command_line_wins(tmp_path, captured, capsys):
    source = _checkpoint(tmp_path / "r.safetensors", {
        "preset": "tiny", "batch": 4, "lr": 5e-5, "warmup": 7, "ema": 0.99, "context_prob": 0.0, "crop": 64,
        "mean_start": 0.25, "clipped_loss": True, "ripple_weight": 3.0, "colour_permutation": 0.5,
        "downscale": 0.25, "downscale_factors": [2, 4], "output": "shading", "head_blend": "tent",
        "pbr": True, "physics": True, "data": "elsewhere", "steps": 1500, "seed": 9, "init": "cycles"})
    code = main(["train", "--data", "d", "--out", str(tmp_path / "run"), "--recipe", source, "--batch", "32",
                 "--lr", "1.4e-4", "--no-clipped-loss"])
    assert code == 0, capsys.readouterr().err
    cfg = captured["cfg"]
    # the recipe's options ...
    assert (cfg.preset, cfg.warmup, cfg.ema, cfg.context_prob, cfg.crop) == ("tiny", 7, 0.99, 0.0, 64)
    assert (cfg.mean_start, cfg.ripple_weight, cfg.colour_permutation, cfg.downscale) == (0.25, 3.0, 0.5, 0.25)
    assert tuple(cfg.downscale_factors) == (2, 4) and (cfg.output, cfg.head_blend, cfg.pbr) == ("shading", "tent", True)
    # ... but the command line's batch, rate and --no-clipped-loss, and the run's own data, steps, seed and init
    assert (cfg.batch, cfg.lr, cfg.clipped_loss) == (32, 1.4e-4, False)
    assert (cfg.data, cfg.steps, cfg.seed, cfg.init) == ("d", 1000, 0, None)


def test_without_a_recipe_the_defaults_stand(tmp_path, captured):
    assert main(["train", "--data", "d", "--out", str(tmp_path / "run")]) == 0
    cfg = captured["cfg"]
    assert (cfg.mean_start, cfg.clipped_loss, cfg.warmup, cfg.pbr, cfg.lr) == (0.0, False, 50, False, 5e-4)


def test_a_checkpoint_without_a_training_record_or_with_a_bad_field_is_refused_by_name(tmp_path, captured, capsys):
    bare = _checkpoint(tmp_path / "bare.safetensors", None)
    assert main(["train", "--data", "d", "--out", str(tmp_path / "run"), "--recipe", bare]) == 2
    err = capsys.readouterr().err
    assert "bare.json" in err and "field 'train' missing" in err and "cfg" not in captured
    bad = _checkpoint(tmp_path / "bad.safetensors", {"lr": "fast", "batch": 4})
    with pytest.raises(ConfigError, match=r"bad\.json: field 'train\.lr' is 'fast'"):
        recipe_defaults(bad)
    flag = _checkpoint(tmp_path / "flag.safetensors", {"batch": True})  # a bool is not a batch size
    with pytest.raises(ConfigError, match=r"train\.batch"):
        recipe_defaults(flag)
    assert main(["train", "--data", "d", "--out", "o", "--recipe", str(tmp_path / "none.safetensors")]) == 2
    assert "none.safetensors" in capsys.readouterr().err


def test_an_old_record_leaves_the_fields_it_lacks_at_the_defaults(tmp_path):
    old = load_meta(resolve_checkpoint("raster"))["train"]
    assert "mean_start" not in old  # written before the field existed
    recipe = recipe_defaults("raster")
    assert "mean_start" not in recipe and recipe["look"] == "tiny" and recipe["lr"] == old["lr"]
