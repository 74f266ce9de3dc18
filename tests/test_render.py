"""The learned renderer as users call it: any clip length, same seed same frames, the CLI's four outputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

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


def test_teacher_forcing_conditions_each_window_on_the_given_frames(tiny_dataset, tmp_path):
    """Forced with the model's own frames it draws exactly the free render; forced with other frames
    only the windows after the first change; a forcing clip of the wrong length is refused."""
    from worldsim.errors import WorldsimError

    train(TrainConfig(data=str(tiny_dataset), out=str(tmp_path), preset="tiny", steps=1, batch=1, val_clips=1),
          progress=False)
    renderer = Renderer(str(tmp_path / "checkpoint.safetensors"), steps=1)
    clip = {k: v[0] for k, v in read_shard(shard_path(tiny_dataset, 0)).items() if k != "rgb"}
    free = renderer.render_clip(clip, seed=1)
    assert np.array_equal(renderer.render_clip(clip, seed=1, teacher_forcing=free), free)
    forced = renderer.render_clip(clip, seed=1, teacher_forcing=np.full_like(free, 255))
    first = renderer.window
    assert np.array_equal(forced[:first], free[:first]) and not np.array_equal(forced[first:], free[first:])
    with pytest.raises(WorldsimError, match="teacher_forcing has 3 frames"):
        renderer.render_clip(clip, seed=1, teacher_forcing=free[:3])


def test_without_feedback_every_window_is_drawn_from_its_maps_alone(tiny_dataset, tmp_path):
    """``sampling_feedback: false`` in a checkpoint's JSON (or ``feedback=False``) draws each window
    with no context, except real ``start`` frames before the first; a bad value names file and field."""
    import json

    from worldsim.conditioning.arrays import window
    from worldsim.errors import DataError

    train(TrainConfig(data=str(tiny_dataset), out=str(tmp_path), preset="tiny", steps=1, batch=1, val_clips=1),
          progress=False)
    weights, config = tmp_path / "checkpoint.safetensors", tmp_path / "checkpoint.json"
    clip = {k: v[0] for k, v in read_shard(shard_path(tiny_dataset, 0)).items() if k != "rgb"}
    fed = Renderer(str(weights), steps=1)
    assert fed.feedback
    config.write_text(json.dumps({**json.loads(config.read_text()), "sampling_feedback": False}))
    alone = Renderer(str(weights), steps=1)
    assert not alone.feedback and Renderer(str(weights), steps=1, feedback=True).feedback
    size = alone.window
    windows = [alone.render_window({k: v[None] for k, v in window(clip, first, first + size).items()}, i, None)[0]
               for i, first in enumerate(range(0, len(clip["albedo"]), size))]
    frames = alone.render_clip(clip, seed=0)
    assert np.array_equal(frames, np.concatenate(windows))
    assert not np.array_equal(frames[size:], fed.render_clip(clip, seed=0)[size:])
    start = np.full((1, *frames.shape[1:]), 200, np.uint8)
    led = alone.render_clip(clip, seed=0, start=start)
    assert np.array_equal(led[:size], fed.render_clip(clip, seed=0, start=start)[:size])
    assert np.array_equal(led[size:], frames[size:])
    config.write_text(json.dumps({**json.loads(config.read_text()), "sampling_feedback": "no"}))
    with pytest.raises(DataError, match=r"checkpoint\.json: sampling_feedback"):
        Renderer(str(weights))


def test_render_cli_with_default_checkpoint_at_any_resolution(tmp_path):
    """The shipped default (the Cycles look) at a size it never trained on, not square."""
    result = subprocess.run([sys.executable, "-m", "worldsim.cli", "render", str(ROOT / "scenes" / "tower_topple.yaml"),
                             "--out", str(tmp_path), "--seconds", "0.3", "--steps", "1", "--resolution", "80x48"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for name in ("model.mp4", "reference.mp4", "side_by_side.mp4"):
        assert (tmp_path / name).stat().st_size > 0
    frames = np.load(tmp_path / "frames.npz")
    assert frames["model"].shape == frames["reference"].shape == (8, 48, 80, 3)
    assert "PSNR" in result.stdout and "cycles look" in result.stdout


def test_render_cli_raster_look(tmp_path):
    result = subprocess.run([sys.executable, "-m", "worldsim.cli", "render", str(ROOT / "scenes" / "tower_topple.yaml"),
                             "--out", str(tmp_path), "--seconds", "0.1", "--steps", "1", "--look", "raster",
                             "--resolution", "64x64"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "raster look" in result.stdout and "TinyRenderer" in result.stdout
    assert np.load(tmp_path / "frames.npz")["model"].shape == (3, 64, 64, 3)


def test_render_cli_without_a_reference_writes_the_learned_frames_alone(tmp_path):
    """--reference none: the learned frames at the renderer's own speed, with the same frames as a
    render beside a reference (the map pass, not the teacher, feeds the model)."""
    common = [sys.executable, "-m", "worldsim.cli", "render", str(ROOT / "scenes" / "tower_topple.yaml"), "--seconds",
              "0.2", "--resolution", "48x32"]
    alone = subprocess.run([*common, "--out", str(tmp_path / "alone"), "--reference", "none"], capture_output=True,
                           text=True)
    assert alone.returncode == 0, alone.stderr
    assert "reference: none" in alone.stdout and "PSNR" not in alone.stdout
    assert sorted(p.name for p in (tmp_path / "alone").iterdir()) == ["frames.npz", "model.mp4"]
    beside = subprocess.run([*common, "--out", str(tmp_path / "beside"), "--reference", "tiny"], capture_output=True,
                            text=True)
    assert beside.returncode == 0, beside.stderr
    assert "reference: TinyRenderer" in beside.stdout and "PSNR" in beside.stdout
    model = np.load(tmp_path / "alone" / "frames.npz")["model"]
    assert model.shape == (5, 32, 48, 3) and np.array_equal(model, np.load(tmp_path / "beside" / "frames.npz")["model"])


def _frames(spec, size, count=2):
    from worldsim.physics import PhysicsWorld
    from worldsim.teacher.tiny import render_frame

    with PhysicsWorld(spec) as world:
        frames = []
        for _ in range(count):
            frames.append(render_frame(world, resolution=size, passes="maps"))
            world.step_frames(1)
    return frames


def test_one_checkpoint_two_sizes_same_seed_same_frames():
    from worldsim.scene import load_scene

    spec = load_scene(ROOT / "scenes" / "tower_topple.yaml")
    renderer = Renderer("cycles", steps=1)
    small, large = _frames(spec, (64, 64)), _frames(spec, (96, 72))
    a = renderer.render(spec, small, seed=3)
    assert a.shape == (2, 64, 64, 3) and renderer.render(spec, large, seed=3).shape == (2, 72, 96, 3)
    assert np.array_equal(a, renderer.render(spec, small, seed=3))


def test_each_look_asks_for_the_maps_it_lines_up_with():
    """The Cycles look reads the raster pass's maps (Cycles' own meshes and UVs), the raster look
    TinyRenderer's (its own teacher's)."""
    cycles, raster = Renderer("cycles"), Renderer("raster")
    assert (cycles.teacher, cycles.map_pass) == ("cycles", "raster")
    assert (raster.teacher, raster.map_pass) == ("tiny", "tiny")


def test_a_scene_of_64_bodies_renders():
    """Floor, four walls and 60 boxes: the old renderer refused anything over 16 bodies."""
    from worldsim.scene import scene_from_dict

    bodies = [{"name": "floor", "type": "plane"}]
    bodies += [{"name": f"wall{i}", "type": "box", "static": True, "size": [0.05, 2.0, 0.3],
                "position": [1.0 * (1 if i % 2 else -1) if i < 2 else 0.0, 0.0 if i < 2 else (1.0 if i == 2 else -1.0), 0.15],
                "euler_deg": [0, 0, 0 if i < 2 else 90]} for i in range(4)]
    bodies += [{"name": f"b{i}", "type": "box", "size": [0.06, 0.06, 0.06], "color": [(i % 5) / 5, 0.4, 1 - (i % 7) / 7],
                "position": [0.15 * (i % 10) - 0.7, 0.2 * (i // 10) - 0.5, 0.04]} for i in range(59)]
    spec = scene_from_dict({"bodies": bodies, "cameras": [{"position": [0, -2.0, 1.8], "target": [0, 0, 0]}]})
    assert len(spec.bodies) == 64
    frames = _frames(spec, (64, 48), count=1)
    assert len(set(np.unique(frames[0].segmentation)) - {-1}) > 40
    out = Renderer("cycles", steps=1).render(spec, frames, seed=0)
    assert out.shape == (1, 48, 64, 3) and out.dtype == np.uint8


def test_a_material_beyond_the_checkpoint_is_a_clear_error():
    import pytest

    from worldsim.errors import WorldsimError
    from worldsim.model import build_model

    renderer = Renderer.from_model(build_model("tiny"))
    with pytest.raises(WorldsimError, match="material id 40"):
        renderer.render_window({"material": np.full((1, 1, 4, 4), 40, np.uint8)}, seed=0)


def test_the_sampler_steps_default_to_the_checkpoints_own(tmp_path):
    """``sampling_steps`` in a checkpoint's JSON sets the default; an explicit count wins; a bad value
    names the file and the field."""
    import json
    import shutil

    import pytest

    from worldsim.checkpoint import CHECKPOINT_DIR, DEFAULT_SAMPLING_STEPS
    from worldsim.errors import DataError

    weights = tmp_path / "mine.safetensors"
    shutil.copy(CHECKPOINT_DIR / "raster.safetensors", weights)
    meta = json.loads((CHECKPOINT_DIR / "raster.json").read_text())
    meta.pop("sampling_steps", None)
    (tmp_path / "mine.json").write_text(json.dumps(meta))
    assert Renderer(str(weights)).steps == DEFAULT_SAMPLING_STEPS
    (tmp_path / "mine.json").write_text(json.dumps({**meta, "sampling_steps": 3}))
    assert Renderer(str(weights)).steps == 3 and Renderer(str(weights), steps=2).steps == 2
    (tmp_path / "mine.json").write_text(json.dumps({**meta, "sampling_steps": "two"}))
    with pytest.raises(DataError, match=r"mine\.json: sampling_steps"):
        Renderer(str(weights))


def test_temperature_zero_renders_the_mean_image_whatever_the_seed(tmp_path):
    """``sampling_temperature`` scales the starting noise: at 0 the seed no longer matters, at 1 it
    does; out-of-range values are refused, naming the file or the argument."""
    import json
    import shutil

    import pytest

    from worldsim.checkpoint import CHECKPOINT_DIR
    from worldsim.errors import DataError, WorldsimError
    from worldsim.recording import rollout
    from worldsim.templates import random_scene

    weights = tmp_path / "mine.safetensors"
    shutil.copy(CHECKPOINT_DIR / "raster.safetensors", weights)
    meta = json.loads((CHECKPOINT_DIR / "raster.json").read_text())
    spec = random_scene(5, 32, 4)
    frames = rollout(spec, seed=0, frames=4, resolution=(32, 32)).frames
    (tmp_path / "mine.json").write_text(json.dumps({**meta, "sampling_temperature": 0.0}))
    cold = Renderer(str(weights), steps=1)
    assert cold.temperature == 0.0
    assert np.array_equal(cold.render(spec, frames, seed=0), cold.render(spec, frames, seed=1))
    warm = Renderer(str(weights), steps=1, temperature=1.0)
    assert not np.array_equal(warm.render(spec, frames, seed=0), warm.render(spec, frames, seed=1))
    with pytest.raises(WorldsimError, match="temperature"):
        Renderer(str(weights), temperature=3.0)
    (tmp_path / "mine.json").write_text(json.dumps({**meta, "sampling_temperature": -1}))
    with pytest.raises(DataError, match=r"mine\.json: sampling_temperature"):
        Renderer(str(weights))


@pytest.mark.skipif(shutil.which("g++") is None and "CXX" not in os.environ, reason="torch.compile needs a C++ compiler")
def test_a_compiled_renderer_draws_what_the_eager_one_draws_and_the_same_every_time():
    """``compile=True`` (torch.compile): frames within a level or two of the eager model's, and
    identical from one call to the next, on a tiny untrained model (its compile is quick)."""
    from worldsim.model import build_model
    from worldsim.recording import rollout
    from worldsim.render import compiled
    from worldsim.templates import random_scene

    torch.manual_seed(0)
    eager = Renderer.from_model(build_model("tiny", resolution=32), steps=1)
    fast = Renderer.from_model(eager.model, steps=1)
    fast.model = compiled(eager.model, fast.device)
    spec = random_scene(3, 32, 2)
    frames = rollout(spec, seed=0, frames=2, resolution=(32, 32)).frames
    want, got = eager.render(spec, frames, seed=4), fast.render(spec, frames, seed=4)
    assert np.abs(want.astype(int) - got.astype(int)).max() <= 2
    assert np.array_equal(got, fast.render(spec, frames, seed=4))


def test_compile_without_a_cpp_compiler_says_so_before_the_first_frame(monkeypatch):
    import torch._inductor.cpp_builder as builder

    from worldsim.errors import WorldsimError
    from worldsim.render import compiled

    def missing():
        raise RuntimeError("no g++ found")

    monkeypatch.setattr(builder, "get_cpp_compiler", missing)
    with pytest.raises(WorldsimError, match="C\\+\\+ compiler.*no g\\+\\+ found"):
        compiled(torch.nn.Linear(2, 2), torch.device("cpu"))


@pytest.mark.parametrize(("features", "want"), [({"avx512_bf16": True}, "bf16"), ({"amx_bf16": True}, "bf16"),
                                                ({"bf16": True}, "bf16"), ({"avx2": True, "avx512_bf16": False}, "fp32")])
def test_auto_precision_is_bf16_only_where_the_cpu_multiplies_it(monkeypatch, features, want):
    """Without native bf16 autocast emulates it, slower than fp32, so ``auto`` keeps fp32 there."""
    from worldsim.render import resolve_precision

    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: features)
    assert resolve_precision("auto", torch.device("cpu")) == want
    assert Renderer("cycles").precision == want
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32" and Renderer(precision="bf16").precision == "bf16"


def test_bf16_frames_are_fp32_frames_within_rounding_and_an_unknown_precision_is_refused():
    from worldsim.errors import WorldsimError
    from worldsim.metrics import psnr
    from worldsim.scene import load_scene

    spec = load_scene(ROOT / "scenes" / "tower_topple.yaml")
    frames = _frames(spec, (64, 64))
    fp32 = Renderer("cycles", steps=1, precision="fp32").render(spec, frames, seed=0)
    bf16 = Renderer("cycles", steps=1, precision="bf16").render(spec, frames, seed=0)
    assert psnr(bf16, fp32) > 35 and not np.array_equal(bf16, fp32)  # rounded, not skipped
    with pytest.raises(WorldsimError, match="precision 'fp16' is not one of auto, fp32, bf16"):
        Renderer(precision="fp16")


def test_auto_precision_on_a_gpu_counts_only_native_bf16(monkeypatch):
    """A GPU before Ampere emulates bf16 (slower than fp32): ``auto`` keeps fp32 there."""
    from worldsim.render import native_bf16

    for native in (True, False):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True, n=native: n or including_emulation)
        assert native_bf16(torch.device("cuda")) is native
