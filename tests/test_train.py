"""Training: loss goes down, checkpoints round-trip, a killed run resumes to the same weights."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from worldsim.checkpoint import load_model, load_tensors
from worldsim.conditioning.tensors import PBR_CHANNELS
from worldsim.errors import DataError
from worldsim.train import TrainConfig, Trainer, train


def _cfg(data, out, steps, **kw):
    return TrainConfig(data=str(data), out=str(out), steps=steps,
                       **{"preset": "tiny", "batch": 2, "warmup": 2, "log_every": 1, "checkpoint_every": 2,
                          "sample_every": 100, "val_clips": 1, **kw})


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_resume_after_kill_matches_uninterrupted_run(tiny_dataset, tmp_path, precision):
    train(_cfg(tiny_dataset, tmp_path / "straight", 4, precision=precision), progress=False)
    train(_cfg(tiny_dataset, tmp_path / "killed", 2, precision=precision), progress=False)  # as a kill at step 2
    train(_cfg(tiny_dataset, tmp_path / "killed", 4, precision=precision), resume=True, progress=False)
    a, _ = load_tensors(tmp_path / "straight" / "train_state.safetensors")
    b, meta = load_tensors(tmp_path / "killed" / "train_state.safetensors")
    assert meta["step"] == 4 and a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_run_saved_before_token_features_or_outputs_resumes_with_its_own_architecture(tiny_dataset, tmp_path):
    """A resumed run keeps the model it was saved with: none for a run from before token features,
    its own count for a run that chose some."""
    train(_cfg(tiny_dataset, tmp_path / "old", 2, token_features=0), progress=False)
    sidecar = tmp_path / "old" / "train_state.json"
    saved = json.loads(sidecar.read_text())
    for key in ("token_features", "output", "depth", "pbr_channels", "frame_summary"):
        del saved["config"][key]
    sidecar.write_text(json.dumps(saved))
    train(_cfg(tiny_dataset, tmp_path / "old", 4), resume=True, progress=False)
    model, meta = load_model(tmp_path / "old" / "checkpoint.safetensors")
    assert meta["steps"] == 4 and model.config.token_features == 0 and model.token_head is None
    assert model.config.output == "rgb" and model.config.depth == 2  # the tiny preset's
    assert model.config.pbr_channels == 12  # what every run had before the glare channels
    assert not model.config.frame_summary
    train(_cfg(tiny_dataset, tmp_path / "new", 2, token_features=4, output="shading", depth=3, frame_summary=True,
               init=str(tmp_path / "old" / "checkpoint.safetensors")), progress=False)
    train(_cfg(tiny_dataset, tmp_path / "new", 3), resume=True, progress=False)  # keeps what it was saved with
    config = load_model(tmp_path / "new" / "checkpoint.safetensors")[0].config
    assert config.token_features == 4 and config.output == "shading" and config.depth == 3 and config.frame_summary
    assert config.pbr_channels == PBR_CHANNELS


def test_refuses_to_overwrite_a_run(tiny_dataset, tmp_path):
    train(_cfg(tiny_dataset, tmp_path / "run", 2), progress=False)
    with pytest.raises(DataError, match="--resume"):
        train(_cfg(tiny_dataset, tmp_path / "run", 2), progress=False)


def test_checkpoint_is_safetensors_plus_json_and_loads(tiny_dataset, tmp_path):
    train(_cfg(tiny_dataset, tmp_path / "run", 2), progress=False)
    meta = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert meta["steps"] == 2 and meta["model"]["resolution"] == 32
    model, _ = load_model(tmp_path / "run" / "checkpoint.safetensors")
    assert not model.training
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "frames_per_s" in json.loads(lines[0])


def test_a_run_without_context_frames_ships_a_renderer_without_feedback(tiny_dataset, tmp_path):
    from worldsim.render import Renderer

    train(_cfg(tiny_dataset, tmp_path / "plain", 1), progress=False)
    train(_cfg(tiny_dataset, tmp_path / "alone", 1, context_prob=0.0), progress=False)
    assert Renderer(str(tmp_path / "plain" / "checkpoint.safetensors")).feedback
    assert not Renderer(str(tmp_path / "alone" / "checkpoint.safetensors")).feedback
    with pytest.raises(ValueError, match="context_prob"):
        train(_cfg(tiny_dataset, tmp_path / "blind", 1, context_prob=0.0, physics=False), progress=False)


def test_mean_start_trains_windows_exactly_as_a_temperature_0_one_step_render(tiny_dataset, tmp_path):
    """``mean_start`` moves that fraction of windows to flow time 0 with zero noise (all of them at 1);
    at 0 the draws are the flow's own, unchanged; the validation reports the shipped sampling's PSNR."""
    from worldsim.train import Trainer

    def draw(fraction):
        cfg = _cfg(tiny_dataset, tmp_path / f"run{fraction}", 4, mean_start=fraction, batch=8)
        return Trainer(cfg)._draw(3)

    _, _, noise, t = draw(0.0)
    _, _, all_noise, all_t = draw(1.0)
    _, _, half_noise, half_t = draw(0.5)
    assert (noise.flatten(1).abs().sum(1) > 0).all()  # the flow's own draws: unit noise everywhere
    assert (all_t == 0).all() and (all_noise == 0).all()
    moved = half_noise.flatten(1).abs().sum(1) == 0
    assert 0 < int(moved.sum()) < 8  # this seed moves some of the 8 windows, not all
    assert (half_t[moved] == 0).all()
    assert torch.equal(half_noise[~moved], noise[~moved]) and torch.equal(half_t[~moved], t[~moved])
    metrics = train(_cfg(tiny_dataset, tmp_path / "trained", 2, mean_start=0.5), progress=False)
    assert {"val_psnr", "val_psnr_mean_start"} <= metrics.keys()
    with pytest.raises(ValueError, match="mean_start"):
        train(_cfg(tiny_dataset, tmp_path / "bad", 2, mean_start=1.5), progress=False)


def test_a_clipped_loss_run_trains_and_records_it(tiny_dataset, tmp_path):
    """``clipped_loss`` reaches the loss and the saved config; with the velocity weighting it is refused."""
    from worldsim.checkpoint import load_meta

    train(_cfg(tiny_dataset, tmp_path / "clipped", 1, clipped_loss=True), progress=False)
    assert load_meta(tmp_path / "clipped" / "checkpoint.safetensors")["train"]["clipped_loss"] is True
    with pytest.raises(ValueError, match="clipped_loss"):
        _cfg(tiny_dataset, tmp_path / "bad", 1, clipped_loss=True, loss_weighting="velocity")
    with pytest.raises(ValueError, match="depth"):
        _cfg(tiny_dataset, tmp_path / "bad", 1, depth=0)


def test_a_ripple_weighted_run_trains_and_records_it(tiny_dataset, tmp_path):
    """``ripple_weight`` reaches the loss (a different first step) and the saved config; a negative,
    a NaN or one with the velocity weighting is refused."""
    from worldsim.checkpoint import load_meta

    plain = train(_cfg(tiny_dataset, tmp_path / "plain", 1, precision="fp32"), progress=False)
    weighted = train(_cfg(tiny_dataset, tmp_path / "ripple", 1, ripple_weight=1000.0, precision="fp32"), progress=False)
    assert load_meta(tmp_path / "ripple" / "checkpoint.safetensors")["train"]["ripple_weight"] == 1000.0
    a, _ = load_tensors(tmp_path / "plain" / "checkpoint.safetensors")
    b, _ = load_tensors(tmp_path / "ripple" / "checkpoint.safetensors")
    assert any(not torch.equal(a[k], b[k]) for k in a) and plain.keys() == weighted.keys()
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="ripple_weight"):
            _cfg(tiny_dataset, tmp_path / "bad", 1, ripple_weight=bad)
    with pytest.raises(ValueError, match="ripple_weight"):
        _cfg(tiny_dataset, tmp_path / "bad", 1, ripple_weight=1.0, loss_weighting="velocity")


def test_light_gain_is_for_the_cycles_look_and_a_fraction():
    """The gain's symmetry is Cycles' (tests/test_augment.py); TinyRenderer shades with PyBullet's
    coefficients on colour codes, where it was never shown, so a raster-look run asking for it is
    refused, as is a fraction outside [0, 1]."""
    from worldsim.train import TrainConfig

    assert TrainConfig(data="d", out="o", pbr=True, light_gain=0.5).light_gain == 0.5
    with pytest.raises(ValueError, match="raster look"):
        TrainConfig(data="d", out="o", light_gain=0.5)
    with pytest.raises(ValueError, match="light_gain is a fraction"):
        TrainConfig(data="d", out="o", pbr=True, light_gain=1.5)


def test_precision_is_auto_fp32_or_bf16_and_a_bf16_run_learns(tiny_dataset, tmp_path):
    """bf16 autocast keeps fp32 weights: its updates are not lost to bf16 rounding, so the loss falls
    as an fp32 run's does."""
    assert TrainConfig(data="d", out="o").precision == "auto"
    with pytest.raises(ValueError, match="precision is one of auto, fp32, bf16; got 'fp16'"):
        TrainConfig(data="d", out="o", precision="fp16")
    losses = {}
    for precision in ("fp32", "bf16"):
        train(_cfg(tiny_dataset, tmp_path / precision, 30, precision=precision, lr=3e-3), progress=False)
        rows = [json.loads(line) for line in (tmp_path / precision / "metrics.jsonl").read_text().splitlines()]
        losses[precision] = [row["loss"] for row in rows if "loss" in row]
    for precision, loss in losses.items():
        assert sum(loss[-5:]) < 0.7 * sum(loss[:5]), precision
    assert next(iter(load_tensors(tmp_path / "bf16" / "checkpoint.safetensors")[0].values())).dtype == torch.float32


def test_truncated_and_pickled_checkpoints_are_refused(tiny_dataset, tmp_path):
    train(_cfg(tiny_dataset, tmp_path / "run", 2), progress=False)
    path = tmp_path / "run" / "checkpoint.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="checkpoint.safetensors"):
        load_model(path)
    torch.save({"w": torch.zeros(1)}, path)  # a pickled torch file under the same name
    with pytest.raises(DataError, match="pickled"):
        load_model(path)


def test_pure_video_baseline_trains_and_rolls_out_from_real_start_frames(tiny_dataset, tmp_path):
    import numpy as np

    from worldsim.conditioning.arrays import CLIP_KEYS
    from worldsim.dataset import load_dataset
    from worldsim.render import Renderer

    train(_cfg(tiny_dataset, tmp_path / "pure", 2, physics=False, context_frames=3, context_prob=1.0), progress=False)
    renderer = Renderer(str(tmp_path / "pure" / "checkpoint.safetensors"))
    assert renderer.model.config.context_frames == 3 and not renderer.model.config.use_physics
    arrays = load_dataset(tiny_dataset)
    clip = {k: v[0] for k, v in arrays.items()}
    start = clip["rgb"][:3]
    rest = {k: clip[k] if k in CLIP_KEYS else clip[k][3:] for k in clip if k != "rgb"}
    frames = renderer.render_clip(rest, seed=0, start=start)
    assert frames.shape == clip["rgb"][3:].shape and frames.dtype == np.uint8
    again = renderer.render_clip(rest, seed=0, start=start)
    assert np.array_equal(frames, again)
    with pytest.raises(ValueError, match="context frames"):  # one context frame to a 3-frame model
        renderer.render_window({k: v[None] for k, v in rest.items()}, seed=0, context=start[:1])


def test_a_safetensors_file_whose_header_length_starts_with_0x80_loads(tmp_path):
    """The header's length is the file's first 8 bytes; a length whose low byte is 0x80 is not a pickle."""
    from worldsim.checkpoint import save_tensors

    for n in range(1, 300):  # grow a tensor name until the header length's low byte is 0x80
        path = tmp_path / f"t{n}.safetensors"
        save_tensors(path, {"w" * n: torch.zeros(2)}, {"steps": 1})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    tensors, meta = load_tensors(path)
    assert torch.equal(tensors["w" * n], torch.zeros(2)) and meta == {"steps": 1}


def test_a_control_run_reads_only_the_pbr_channels_it_asked_for(tiny_dataset, tmp_path):
    """``--pbr-channels 14``: the A/B control of the sun and sky reflections trains, saves and resumes
    reading the first 14 Cycles-look inputs; more than there are is refused by name."""
    train(_cfg(tiny_dataset, tmp_path / "control", 2, pbr=True, pbr_channels=14), progress=False)
    train(_cfg(tiny_dataset, tmp_path / "control", 3, pbr=True), resume=True, progress=False)
    model, meta = load_model(tmp_path / "control" / "checkpoint.safetensors")
    assert meta["steps"] == 3 and model.config.pbr_channels == 14
    wide = dataclasses.replace(model.config, pbr_channels=PBR_CHANNELS)
    assert model.config.in_channels == wide.in_channels - (PBR_CHANNELS - 14)
    with pytest.raises(ValueError, match=f"pbr_channels {PBR_CHANNELS + 1}"):
        train(_cfg(tiny_dataset, tmp_path / "too_many", 1, pbr=True, pbr_channels=PBR_CHANNELS + 1), progress=False)


def test_a_run_reading_the_mirror_takes_it_from_whole_frames_not_from_its_crops(tiny_dataset, tmp_path, monkeypatch):
    """A ray leaving a crop must still find its pixel: the mirror channels of every training and
    validation window come from the array worked out on whole frames (worldsim.derived), and the
    crop is never marched."""
    from worldsim.conditioning import tensors

    marched = []
    monkeypatch.setattr(tensors, "mirror_maps", lambda batch: marched.append(1))
    train(_cfg(tiny_dataset, tmp_path / "mirror", 3, pbr=True, crop=16), progress=False)
    model, _ = load_model(tmp_path / "mirror" / "checkpoint.safetensors")
    assert marched == [] and model.config.pbr_channels == PBR_CHANNELS


def _moved(run, start: dict, prefix: str) -> float:
    """How far the trained (not EMA) weights under ``prefix`` moved from ``start``, summed."""
    now, _ = load_tensors(run / "train_state.safetensors")
    return sum(float((now[f"model.{k}"] - v).abs().sum()) for k, v in start.items() if k.startswith(prefix))


def test_new_lr_trains_the_blocks_init_did_not_supply_faster_and_resumes_exactly(tiny_dataset, tmp_path):
    """--depth 3 from a depth-2 run: the third block is new. With ``new_lr`` ten times ``lr`` it
    moves about ten times as far (Adam's steps scale with the rate), the inherited blocks as far as
    without it; a killed run resumes to the same weights; a mismatched resume is refused."""
    train(_cfg(tiny_dataset, tmp_path / "old", 1, precision="fp32"), progress=False)
    init = str(tmp_path / "old" / "checkpoint.safetensors")
    deep = {"depth": 3, "init": init, "precision": "fp32", "lr": 1e-3}
    start = Trainer(_cfg(tiny_dataset, tmp_path / "start", 2, **deep)).model.state_dict()  # inherited + fresh
    train(_cfg(tiny_dataset, tmp_path / "same", 2, **deep), progress=False)
    train(_cfg(tiny_dataset, tmp_path / "fast", 2, new_lr=1e-2, **deep), progress=False)
    ratio_new = _moved(tmp_path / "fast", start, "blocks.2.") / _moved(tmp_path / "same", start, "blocks.2.")
    ratio_old = _moved(tmp_path / "fast", start, "blocks.0.") / _moved(tmp_path / "same", start, "blocks.0.")
    assert 5 < ratio_new < 15 and 0.7 < ratio_old < 1.4, (ratio_new, ratio_old)
    assert load_tensors(tmp_path / "fast" / "train_state.safetensors")[1]["config"]["new_lr"] == 1e-2

    train(_cfg(tiny_dataset, tmp_path / "killed", 1, new_lr=1e-2, **deep), progress=False)
    train(_cfg(tiny_dataset, tmp_path / "killed", 2, new_lr=1e-2, **deep), resume=True, progress=False)
    a, _ = load_tensors(tmp_path / "fast" / "train_state.safetensors")
    b, _ = load_tensors(tmp_path / "killed" / "train_state.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(DataError, match="--new-lr"):  # one parameter group saved, two asked for
        train(_cfg(tiny_dataset, tmp_path / "same", 3, new_lr=1e-2, **deep), resume=True, progress=False)


def test_new_lr_needs_init_and_something_new(tiny_dataset, tmp_path):
    from worldsim.errors import ConfigError

    for bad in ({"new_lr": 1e-3}, {"new_lr": 0.0, "init": "x"}, {"new_lr": float("nan"), "init": "x"}):
        with pytest.raises(ConfigError, match="new_lr"):
            _cfg(tiny_dataset, tmp_path / "bad", 1, **bad)
    train(_cfg(tiny_dataset, tmp_path / "old", 1), progress=False)
    with pytest.raises(ConfigError, match="supplies every parameter"):
        train(_cfg(tiny_dataset, tmp_path / "same", 1, new_lr=1e-2, init=str(tmp_path / "old" / "checkpoint.safetensors")),
              progress=False)


@pytest.mark.parametrize("world", [1, 2])
def test_only_rank_0_shows_the_loading_bars_when_each_rank_loads_for_itself(world):
    """Without a data cache every DDP rank loads the dataset and works out the mirror itself: one bar, not one a rank."""
    from types import SimpleNamespace

    shown = [Trainer._cache_first(SimpleNamespace(cfg=SimpleNamespace(data_cache=None), world=world, rank=rank),
                                  lambda progress: progress) for rank in range(world)]
    assert shown == [True] + [False] * (world - 1)
