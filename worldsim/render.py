"""The Renderer: what the physics produces in, images out. One object for the CLI, the envs, metrics and notebooks.

``Renderer.render(spec, frames, seed)`` takes the teacher's frames of a scene (:func:`worldsim.render_frame`
or a :class:`~worldsim.recording.Recording`'s) at any resolution and returns ``uint8 (T, H, W, 3)``.
Clips longer than the model's window are rendered window by window; each window after the first
is conditioned on the last frame generated before it, so the clip stays continuous. Noise comes
from a ``torch.Generator`` seeded per window, so the same seed gives the same frames.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from worldsim import flow
from worldsim.checkpoint import (
    DEFAULT_SAMPLING_FEEDBACK,
    DEFAULT_SAMPLING_STEPS,
    DEFAULT_SAMPLING_TEMPERATURE,
    MAX_TEMPERATURE,
    load_model,
    sampling_feedback,
    sampling_steps,
    sampling_temperature,
    valid_temperature,
)
from worldsim.conditioning.arrays import from_frames, window
from worldsim.conditioning.tensors import build_conditions, context_to_model, model_to_frames
from worldsim.errors import WorldsimError


def _one_thread_in_forked_child() -> None:
    """A process forked after torch ran a parallel region inherits a dead OpenMP pool, and its first
    multi-threaded op hangs forever (Gymnasium's ``AsyncVectorEnv`` forks by default). One thread
    never enters the pool; forked workers are meant to run side by side anyway."""
    torch.set_num_threads(1)


os.register_at_fork(after_in_child=_one_thread_in_forked_child)


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when torch sees one, else CPU; a CUDA request without CUDA is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise WorldsimError(f"--device {name} asked for, but torch sees no CUDA device")
    return torch.device(name)


PRECISIONS = ("auto", "fp32", "bf16")
# CPU features that multiply bf16 in hardware (torch.cpu.get_capabilities' names): x86's AVX512-BF16
# and AMX, ARM's BF16 and SVE-BF16. Without one, bf16 autocast emulates and is slower than fp32.
NATIVE_BF16_FEATURES = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a clear error."""
    if precision not in PRECISIONS:
        raise WorldsimError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return precision


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bf16 in hardware: a CUDA GPU that supports it, or a CPU with one
    of :data:`NATIVE_BF16_FEATURES` (False where this torch cannot tell)."""
    if device.type == "cuda":  # emulated bf16 (before Ampere) is slower than fp32: not native
        try:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # a torch without the argument counts only native support
            return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    capabilities = getattr(torch.cpu, "get_capabilities", None)  # older torch cannot tell: fp32
    return capabilities is not None and any(capabilities().get(name) for name in NATIVE_BF16_FEATURES)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16``: ``auto`` is bf16 where the device has it natively (:func:`native_bf16`).

    On this project's CPU (AMD EPYC, AVX512-BF16) bf16 autocast renders a 256² frame 1.34× faster at 1
    step and scores the same on eval (24.96 against 24.97 dB for stage 15), and a training step of
    the ``small`` preset is 1.75× faster on one thread, 1.51× on two (``benchmarks/train_speed.py``),
    with the same eval after 1,800 steps (docs/cycles_look.md, change 12).
    """
    check_precision(precision)
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def check_temperature(temperature: float) -> float:
    """``temperature`` as a float if it is one (:func:`worldsim.checkpoint.valid_temperature`), else a clear error."""
    if not valid_temperature(temperature):
        raise WorldsimError(f"temperature must be a number from 0 to {MAX_TEMPERATURE:g}, got {temperature!r}")
    return float(temperature)


def compiled(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` under ``torch.compile`` (inductor), checked for what it needs before the first frame.

    Fusing the small ops of a 64² frame makes the model 1.4× faster on 2 CPU cores (8 env frames a
    call: 2.04 against 2.83 ms a frame; one frame: 5.2 against 7.7 ms). The first call compiles
    (~30 s on 2 cores, ~10 s when inductor's on-disk cache has it), and a new batch size compiles
    once more, so it pays off for long runs, not for a few frames. Frames differ from the eager
    model's by at most a level or two, and the same inputs give the same frames every time.

    Raises:
        WorldsimError: on a CPU, no C++ compiler for inductor's kernels.
    """
    if device.type == "cpu":
        try:
            from torch._inductor.cpp_builder import get_cpp_compiler

            get_cpp_compiler()
        except Exception as exc:  # noqa: BLE001  (inductor's own message names what it searched for)
            raise WorldsimError(f"compile=True needs a C++ compiler for torch.compile on a CPU (e.g. g++): {exc}") from None
    return torch.compile(model)


def autocast(device: torch.device, precision: str):
    """The autocast context of ``precision`` on ``device``: ``bf16`` runs the matrix products in
    bfloat16 (weights stay fp32), ``fp32`` changes nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


class Renderer:
    """The learned renderer.

    >>> renderer = Renderer()  # the shipped default checkpoint (the Cycles look), on CPU
    >>> renderer.look, renderer.window
    ('cycles', 4)

    Args:
        checkpoint: a shipped name (``cycles``, ``raster``, ``pure_video``), a path, or None for the default.
        device: ``cpu``, ``cuda`` or ``auto``.
        steps: sampler steps per frame; None takes the checkpoint's own (``sampling_steps`` in its
            JSON, the count its evaluation scored best with; 4 where it names none).
        precision: ``fp32``, ``bf16`` (autocast) or ``auto`` (bf16 where the device has it natively:
            :func:`resolve_precision`); :attr:`precision` holds the one chosen.
        temperature: the starting noise's scale; None takes the checkpoint's own
            (``sampling_temperature``; 1 where it names none). 0 starts every frame from the noise's
            mean, so the first step predicts the conditional mean image: for a renderer, whose
            target is one image per state, that scored higher than sampled noise (see the model card).
        compile: run the model under ``torch.compile`` (:func:`compiled`: faster once compiled, for
            long runs).
        feedback: condition each window on the model's own frames before it; None takes the
            checkpoint's own (``sampling_feedback``; true where it names none). Off, every window is
            drawn from its condition maps alone (real ``start`` frames still lead the first): the
            shipped Cycles look scores higher so, and its frames at temperature 0 are a function of
            the physics state, so nothing accumulates over a long clip.
    """

    conditions = staticmethod(build_conditions)  # condition arrays → tensors; compiled with the model

    def __init__(self, checkpoint: str | None = None, device: str = "cpu", steps: int | None = None,
                 precision: str = "auto", temperature: float | None = None, compile: bool = False,
                 feedback: bool | None = None):
        self.device = resolve_device(device)
        self.model, self.meta = load_model(checkpoint, self.device)
        if compile:
            self.model = compiled(self.model, self.device)
            # the condition maps' dozen elementwise ops fuse too: 0.36 -> 0.13 ms a 64² frame (8 a call)
            self.conditions = torch.compile(build_conditions)
        self.steps = steps or sampling_steps(self.meta)  # None: the count the checkpoint's evaluation chose
        self.temperature = sampling_temperature(self.meta) if temperature is None else check_temperature(temperature)
        self.precision = resolve_precision(precision, self.device)
        self.feedback = sampling_feedback(self.meta) if feedback is None else bool(feedback)

    @classmethod
    def from_model(cls, model: torch.nn.Module, device: str = "cpu", steps: int = DEFAULT_SAMPLING_STEPS,
                   precision: str = "auto") -> "Renderer":
        """A renderer around an in-memory model (e.g. an untrained one, for timing)."""
        renderer = cls.__new__(cls)
        renderer.device = resolve_device(device)
        renderer.model, renderer.meta, renderer.steps = model.to(renderer.device).eval(), {}, steps
        renderer.temperature, renderer.feedback = DEFAULT_SAMPLING_TEMPERATURE, DEFAULT_SAMPLING_FEEDBACK
        renderer.precision = resolve_precision(precision, renderer.device)
        return renderer

    @property
    def look(self) -> str:
        """``cycles`` (the path-traced look) or ``raster`` (TinyRenderer's)."""
        return "cycles" if self.model.config.pbr else "raster"

    @property
    def teacher(self) -> str:
        """The teacher its look learned from (:data:`worldsim.recording.TEACHERS`): ``cycles`` or ``tiny``."""
        return "cycles" if self.look == "cycles" else "tiny"

    @property
    def map_pass(self) -> str:
        """The map pass to draw its frames with (``rollout(..., map_pass=renderer.map_pass)``): the one
        that lines up with its teacher's pictures (:func:`worldsim.recording.default_map_pass`)."""
        from worldsim.recording import default_map_pass  # the physics side, only when frames are drawn

        return default_map_pass(self.teacher)

    @property
    def resolution(self) -> int:
        """The square size it trained on: a good default size (it renders any size)."""
        return self.model.config.resolution

    @property
    def window(self) -> int:
        """Frames rendered jointly (attending to each other)."""
        return self.model.config.frames

    def render(self, spec, frames: Sequence, seed: int = 0, progress: bool = False,
               start: np.ndarray | None = None, teacher_forcing: np.ndarray | None = None) -> np.ndarray:
        """Images of ``spec``'s world for the teacher's ``frames`` (:class:`~worldsim.teacher.gbuffer.Frame`).

        Args:
            spec: the scene the frames are of (its light, environment and surfaces are inputs too).
            frames: one frame per output image, all of one size; any size.
            seed: seeds the sampler noise; the same seed and frames give the same images.
            progress: show a progress bar over windows.
            start: ``uint8 (K,H,W,3)``, real frames before the clip, as the first window's context.
            teacher_forcing: ``uint8 (T,H,W,3)``, the true frames: each window is conditioned on these
                instead of on the model's own (:meth:`render_clip`).

        Returns:
            ``uint8 (T, H, W, 3)``.
        """
        clip = from_frames(spec, frames, pbr=self.model.config.pbr)  # a raster look reads no Cycles arrays
        return self.render_clip(clip, seed=seed, progress=progress, start=start, teacher_forcing=teacher_forcing)

    @torch.no_grad()
    def render_window(self, clips: dict[str, np.ndarray], seed: int, context: np.ndarray | None = None,
                      has_context: np.ndarray | None = None, noise: np.ndarray | None = None) -> np.ndarray:
        """Render a batch of windows (condition arrays with leading (B, T) axes, T ≤ window) → ``uint8 (B,T,H,W,3)``.

        Args:
            clips: condition arrays (:mod:`worldsim.conditioning.arrays`, stacked), e.g. one per env.
            seed: seeds the sampler noise; the same seed and inputs give the same frames.
            context: ``uint8 (B,H,W,3)`` or ``(B,K,H,W,3)``, the frame(s) before each window, or None.
            has_context: ``(B,)`` bool, which rows of ``context`` are real (default: all of them).
            noise: ``(B,T,3,H,W)`` unit starting noise, overriding ``seed`` (the envs draw it per
                env); scaled by the temperature like the seeded noise.
        """
        # Checked here, once per window on the host, not in the model's forward (a device sync per step).
        top = int(np.max(clips["material"], initial=0))
        if self.model.config.use_physics and top >= self.model.config.num_materials:
            raise WorldsimError(f"material id {top} is beyond this checkpoint's {self.model.config.num_materials} materials")
        cond = self.conditions(clips, pbr=self.model.config.pbr, pbr_channels=self.model.config.pbr_channels)
        b, t, _, h, w = cond.maps.shape
        if context is not None:
            cond.context = context_to_model(context)
            cond.has_context = torch.ones(b) if has_context is None else torch.from_numpy(np.asarray(has_context, np.float32))
        cond = cond.to(self.device)
        shape = (b, t, 3, h, w)
        if self.temperature == 0:  # every frame starts from the noise's mean: nothing to draw
            start = torch.zeros(shape)
        elif noise is None:
            start = torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * self.temperature
        else:
            start = torch.from_numpy(np.asarray(noise, np.float32)).reshape(shape) * self.temperature
        with autocast(self.device, self.precision):
            return model_to_frames(flow.sample(self.model, start.to(self.device), cond, steps=self.steps))

    def render_clip(self, clip: dict[str, np.ndarray], seed: int = 0, progress: bool = False,
                    start: np.ndarray | None = None, teacher_forcing: np.ndarray | None = None) -> np.ndarray:
        """Render one clip of any length from its condition arrays (leading T axis).

        Each window after the first is conditioned on the model's own last ``context_frames``
        frames (with :attr:`feedback` on; off, on nothing). ``start`` (``uint8 (K,H,W,3)``) gives
        real frames from before the clip as the first window's context: the pure-video baseline
        needs them, the hybrid model can start from nothing.
        ``teacher_forcing`` (``uint8 (T,H,W,3)``, the true frames) conditions each window on the true
        frames before it instead: what the model's errors feeding back cost is the difference.
        """
        length = clip["albedo"].shape[0]
        if teacher_forcing is not None and len(teacher_forcing) != length:
            raise WorldsimError(f"teacher_forcing has {len(teacher_forcing)} frames; the clip has {length}")
        k = self.model.config.context_frames
        out = []
        starts = range(0, length, self.window)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="render", unit="window")
        history = None if start is None else np.asarray(start)
        for i, first in enumerate(starts):
            part = {key: v[None] for key, v in window(clip, first, min(first + self.window, length)).items()}
            context = None
            if history is not None:
                pad = np.repeat(history[:1], max(0, k - len(history)), axis=0)
                context = np.concatenate([pad, history])[-k:][None]
            frames = self.render_window(part, seed * 100_003 + i, context)[0]
            out.append(frames)
            forced = None if teacher_forcing is None else teacher_forcing[first:first + len(frames)]
            history = self._next_context(history, frames, forced, k)
        return np.concatenate(out, axis=0)

    def _next_context(self, history: np.ndarray | None, drawn: np.ndarray, forced: np.ndarray | None,
                      k: int) -> np.ndarray | None:
        """The last ``k`` frames the next window is conditioned on: the true ones under teacher
        forcing, else the model's own where it feeds back, else none."""
        new = forced if forced is not None else drawn if self.feedback else None
        if new is None:
            return None
        return np.asarray(new) if history is None else np.concatenate([history, new])[-k:]
