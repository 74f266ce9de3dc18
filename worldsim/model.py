"""WorldDiT: a resolution-free diffusion transformer over spacetime patches, conditioned on physics maps.

In the style of DiT's ``models.py``: adaLN-Zero blocks through ``modulate``, zero-initialised
modulation and output layers, size presets in a dict. Each block attends over space, then over time:

- **space**: windows of ``window x window`` patches (Swin-style; every other block shifts them by half
  a window so information crosses window borders), with 2-D rotary positions (RoPE) inside. Cost grows
  linearly with pixels and attention depends only on relative offsets, so a model trained on crops
  of large frames renders whole frames of any size (a multiple of ``patch`` is not required: inputs
  are padded by replication and the output cropped);
- **time**: the frames of one patch location attend to each other, with a learned per-frame offset
  (the window length is fixed, the grid is not).

Both kinds of attention, the rotary positions and the window layouts live in :mod:`worldsim.attention`.

The network knows nothing about noise: :mod:`worldsim.flow` wraps it. It imports nothing from the
data side: :class:`DiTConfig` records every size (channels, material count), so its JSON alone
rebuilds the model.

Conditioning enters three ways: per-pixel maps (and a learned embedding of the material id under
each pixel) are concatenated to the noisy frame before patchifying and fed to a per-pixel head; the
flow time and the global light drive adaLN (with ``DiTConfig.frame_summary``, so does the mean of
each frame's tokens); the frames before the window are a context input.

The heads' outputs are the frame itself, or (``DiTConfig.output = "shading"``, the Cycles default) a
gain and an offset in linear light on the albedo and background maps, so colours and textures reach
the frame from the maps rather than from what the network remembers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from worldsim.attention import Attention, WindowAttention, WindowLayout, rope_2d, rope_tables, window_layout
from worldsim.conditioning.tensors import (
    ALBEDO_CHANNELS,
    BACKGROUND_CHANNELS,
    COND_CHANNELS,
    ENV_DIM,
    FOREGROUND_CHANNEL,
    GLOBAL_DIM,
    PBR_CHANNELS,
    Conditions,
    srgb_decode,
    srgb_encode_unclipped,
)
from worldsim.token_pixels import token_maps, token_pixels


@dataclass
class DiTConfig:
    """Everything needed to rebuild a WorldDiT (saved as JSON beside the weights)."""

    resolution: int = 64  # the crop size it trained on (informational: it renders any size)
    frames: int = 4
    patch: int = 8
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    window: int = 8  # space attention within window x window patches
    material_dim: int = 8
    num_materials: int = 16  # rows of the material embedding (ids 0 … num_materials - 1)
    cond_channels: int = COND_CHANNELS
    global_dim: int = GLOBAL_DIM
    pbr_channels: int = PBR_CHANNELS
    env_dim: int = ENV_DIM
    use_physics: bool = True  # False: the pure-video baseline (no maps, only context frames)
    pixel_hidden: int = 64
    prediction: str = "x"  # what the output means: "x" clean frames (default) or "v" flow velocity
    context_frames: int = 1  # frames before the window given as context (the pure-video baseline uses 4)
    pbr: bool = False  # the Cycles look: also sees surface (roughness, metallic, specular), area light and sky
    # Features each token hands the per-pixel head, interpolated bilinearly between token centres (0:
    # none). The head can then take context from the transformer pixel by pixel, where its seg and
    # albedo say which object a pixel belongs to, instead of every pixel of a patch getting the patch's
    # own colour offsets (8×8 blocks and halos). Off in the presets: fine-tuning the Cycles look 1,500
    # steps with 16 of them matched the same run without (20.98 vs 21.00 dB at 256²) at 8 % more time
    # per training step; a run from scratch (a GPU window) may say otherwise.
    token_features: int = 0
    # What the heads' outputs mean. "rgb": the frame itself. "shading": a gain and an offset per pixel
    # and colour channel, in linear light, applied to the albedo map on bodies and to the world's
    # colour (the background map of the Cycles look; black without it) on empty pixels:
    # ``srgb(fg · gain · albedo + (1 − fg) · background + offset)``. A texture or a colour then
    # reaches the frame exactly unless the network changes it, instead of being re-drawn through an
    # 8×8 patch token and a small per-pixel MLP (which turned the sharp letters of an unseen floor
    # texture grey and drew empty pixels at 18 dB where the background map alone scores 40 dB).
    output: str = "rgb"
    # How the tokens' outputs become pixels. "patch": each token draws its own p×p patch, so any
    # disagreement between neighbouring tokens shows as a step at every patch border (the 8×8 blocks
    # on bodies). "tent": each token draws a 2p×2p patch centred on its own, weighted by a tent that
    # falls linearly to 0 at the centres of its neighbours, and the overlapping patches are added: the
    # weights sum to 1 at every pixel, so the output is continuous across patch borders.
    head_blend: str = "patch"
    # A whole-frame summary in the adaLN vector. Every block after the first, and the final layer, add
    # to the flow time and light a linear map of the mean of the frame's tokens (layer-normed) after
    # the block before, so a token also knows what the frame holds beyond its 64 px windows (how
    # much sky, a large coloured floor whose bounce light tints everything, the sun's glare).
    # Cycles' tone is such a whole-frame quantity: a per-frame colour-affine fix alone would add
    # 2.5 dB to stage 21 (benchmarks/error_split.py). The maps are zero-initialised, so a model
    # widened with them (``train --init``) starts as exactly its source. Off in every shipped model:
    # added to stage 21 and fine-tuned 2,500 steps on 128² crops, it matched the same run without
    # (−0.004 dB at 256², docs/cycles_look.md, change 19); a run from scratch on whole frames may say otherwise.
    frame_summary: bool = False

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise ValueError(f"unknown output {self.output!r}; expected one of {', '.join(OUTPUTS)}")
        if self.head_blend not in HEAD_BLENDS:
            raise ValueError(f"unknown head_blend {self.head_blend!r}; expected one of {', '.join(HEAD_BLENDS)}")
        if self.head_blend == "tent" and self.patch % 2:
            raise ValueError(f"head_blend 'tent' needs an even patch size, got {self.patch}")
        if self.output == "shading" and (not self.use_physics or self.prediction != "x"):
            raise ValueError("output 'shading' needs the physics maps and x-prediction")
        if not 0 < self.pbr_channels <= PBR_CHANNELS:
            raise ValueError(f"pbr_channels {self.pbr_channels} is not in 1..{PBR_CHANNELS}, the Cycles-look inputs there are")

    @classmethod
    def from_dict(cls, values: dict) -> "DiTConfig":
        """A config from its JSON dict.

        Raises:
            ValueError: the dict names a field this class does not have (a checkpoint of another
                architecture).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"not a WorldDiT config of this version (unknown fields: {', '.join(unknown)})")
        return cls(**values)

    @property
    def in_channels(self) -> int:
        """Channels per pixel entering the patch embedding."""
        physics = self.cond_channels + self.material_dim if self.use_physics else 0
        extra = self.pbr_channels if self.pbr else 0
        return 3 + physics + 3 * self.context_frames + 1 + extra  # noisy frame, physics, context rgb, flag, pbr

    @property
    def out_channels(self) -> int:
        """Channels per pixel the heads produce (RGB, or gain and offset)."""
        return OUTPUTS[self.output]

    @property
    def out_patch(self) -> int:
        """Side in pixels of each token's output patch: ``patch``, or twice that for tents."""
        return self.patch * HEAD_BLENDS[self.head_blend]

    @property
    def global_in(self) -> int:
        """Width of the global control vector (the light, plus the environment for the Cycles look)."""
        return self.global_dim + (self.env_dim if self.pbr else 0)


OUTPUTS = {"rgb": 3, "shading": 6}  # DiTConfig.output → channels per pixel of the heads
HEAD_BLENDS = {"patch": 1, "tent": 2}  # DiTConfig.head_blend → side of a token's output patch, in patches

PRESETS: dict[str, dict] = {
    "tiny": dict(resolution=32, frames=2, patch=8, dim=32, depth=2, heads=2, window=2, material_dim=4, pixel_hidden=8),
    "small": dict(resolution=64, frames=4, patch=8, dim=128, depth=4, heads=4, window=8),
    "base": dict(resolution=128, frames=4, patch=8, dim=256, depth=8, heads=4, window=8, pixel_hidden=96),
    "large": dict(resolution=256, frames=4, patch=8, dim=512, depth=12, heads=8, window=8, pixel_hidden=128),
}


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: ``x * (1 + scale) + shift`` with per-sample shift/scale broadcast over tokens."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class TimestepEmbedder(nn.Module):
    """Flow time t in [0, 1] → vector, via sinusoidal features and an MLP."""

    def __init__(self, dim: int, freq_dim: int = 128):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / half)
        args = 1000.0 * t[:, None].float() * freqs[None]
        return self.mlp(torch.cat([args.cos(), args.sin()], dim=-1))


class DiTBlock(nn.Module):
    """Window space attention, time attention and an MLP, each gated by adaLN-Zero."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, shift: bool):
        super().__init__()
        self.norms = nn.ModuleList([nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6) for _ in range(3)])
        self.space = WindowAttention(dim, heads, shift)
        self.time = Attention(dim, heads)
        hidden = int(dim * mlp_ratio)
        # The exact (erf) GELU: PyTorch's CPU kernel for the tanh approximation DiT uses measured 4x
        # slower (4.5 vs 1.0 ms on 4096 x 512). Checkpoints trained with the approximation render
        # within one 8-bit level of themselves with it (74 dB PSNR at 256²).
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 9 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor, frames: int, layout: WindowLayout) -> torch.Tensor:
        # x: (B*T, N, D) tokens of each frame; c: (B*T, D); layout: this block's shift's windows
        mods = self.ada(c).chunk(9, dim=-1)
        h = modulate(self.norms[0](x), mods[0], mods[1])
        x = x + mods[2].unsqueeze(1) * self.space(h, layout)
        h = modulate(self.norms[1](x), mods[3], mods[4])
        h = rearrange(h, "(b t) n d -> (b n) t d", t=frames)
        h = rearrange(self.time(h), "(b n) t d -> (b t) n d", n=x.shape[1])
        x = x + mods[5].unsqueeze(1) * h
        h = modulate(self.norms[2](x), mods[6], mods[7])
        return x + mods[8].unsqueeze(1) * self.mlp(h)


class FinalLayer(nn.Module):
    """adaLN then a linear map from tokens back to patches of ``channels`` per pixel."""

    def __init__(self, dim: int, patch: int, channels: int = 3):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, patch * patch * channels)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


UNIT_GAIN = math.log(math.e - 1)  # softplus(UNIT_GAIN) = 1
PIXEL_CHUNK = 4096  # pixels per pass of the pixel head on a CPU (64 hidden floats each: 1 MiB, fits L2)


def pixel_mlp(head: nn.Sequential, pixels: torch.Tensor, glob: torch.Tensor, chunk: int | None,
              features: torch.Tensor | None = None) -> torch.Tensor:
    """The per-pixel head on channels-last inputs (B, T, H, W, Cin), the global vector (B, G) and the
    token features interpolated to every pixel (B, T, H, W, K), if the model has them.

    Computes ``head(cat(pixels, glob broadcast to every pixel, features))`` (the first layer's columns
    in that order) without building that concatenation: the global vector's share of the first layer
    is the same at every pixel of a clip, so it is one bias per clip. With ``chunk`` (a CPU), pixels go
    through ``chunk`` at a time so the hidden activations stay in cache: at 8 × 64² the head took 16 ms
    per forward as one pass over 8 MB of activations, 7 ms chunked. Without (a GPU), one batched pass:
    few, large kernels.
    """
    first, act, second, act2, last = head
    b, c, g = pixels.shape[0], pixels.shape[-1], glob.shape[-1]
    bias = F.linear(glob.to(pixels.dtype), first.weight[:, c:c + g], first.bias)  # (B, hidden)
    weight, feature_weight = first.weight[:, :c], first.weight[:, c + g:]
    flat = pixels.reshape(b, -1, c)
    extra = None if features is None else features.reshape(b, flat.shape[1], -1)

    def mlp(v: torch.Tensor, e: torch.Tensor | None, clip_bias: torch.Tensor) -> torch.Tensor:
        h = F.linear(v, weight, clip_bias)  # the bias inside the matrix product: one pass less over h
        if e is not None:
            h = h + F.linear(e, feature_weight)
        return last(act2(second(act(h))))

    if chunk is None:
        return mlp(flat, extra, bias[:, None]).reshape(*pixels.shape[:-1], -1)
    # split/unbind views, not indexing: the backward of each indexed slice is a zero-filled copy of the
    # whole input (a training step on 4 × 4 × 128² spent half its time filling them); split's is one cat
    out, extra_clips = [], None if extra is None else extra.unbind(0)
    for i, clip in enumerate(flat.unbind(0)):
        pieces = clip.split(chunk)
        extras = [None] * len(pieces) if extra_clips is None else extra_clips[i].split(chunk)
        out += [mlp(v, e, bias[i]) for v, e in zip(pieces, extras, strict=True)]
    return torch.cat(out).reshape(*pixels.shape[:-1], -1)


def with_summary(c: torch.Tensor, tokens: torch.Tensor, summary: nn.Linear | None) -> torch.Tensor:
    """The adaLN vector ``c`` (B*T, D) plus ``summary``'s reading of the mean of each frame's
    layer-normed ``tokens`` (B*T, N, D); ``c`` itself without one (``DiTConfig.frame_summary`` off,
    or the first block, whose tokens are still patch embeddings)."""
    if summary is None:
        return c
    pooled = F.layer_norm(tokens, (tokens.shape[-1],)).mean(dim=1)
    return c + summary(pooled.to(c.dtype))


def channels_last(v: torch.Tensor) -> torch.Tensor:
    """(B, T, C, H, W) → a (B, T, H, W, C) view."""
    return v.permute(0, 1, 3, 4, 2)


class WorldDiT(nn.Module):
    """The physics-conditioned renderer: ``forward(x_t, t, cond) → prediction``, shapes (B, T, 3, H, W)."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = cfg = config
        self.material_emb = nn.Embedding(cfg.num_materials, cfg.material_dim)
        self.patch_embed = nn.Linear(cfg.in_channels * cfg.patch * cfg.patch, cfg.dim)
        self.pos_time = nn.Parameter(torch.zeros(cfg.frames, cfg.dim))
        self.t_embed = TimestepEmbedder(cfg.dim)
        self.g_embed = nn.Sequential(nn.Linear(cfg.global_in, cfg.dim), nn.SiLU(), nn.Linear(cfg.dim, cfg.dim))
        self.blocks = nn.ModuleList([DiTBlock(cfg.dim, cfg.heads, cfg.mlp_ratio, shift=i % 2 == 1)
                                     for i in range(cfg.depth)])
        self.final = FinalLayer(cfg.dim, cfg.out_patch, cfg.out_channels)
        # DiTConfig.frame_summary: one map for each block after the first (``summaries[i]`` feeds block
        # i + 1, so blocks added by widening get their own) and one for the final layer
        self.summaries = self.final_summary = None
        if cfg.frame_summary:
            self.summaries = nn.ModuleList([nn.Linear(cfg.dim, cfg.dim) for _ in range(cfg.depth - 1)])
            self.final_summary = nn.Linear(cfg.dim, cfg.dim)
        # A per-pixel head sees every input at full resolution (albedo texture, n·l, visibility and the
        # global light), so sharp detail and local shading do not have to squeeze through a patch token;
        # the transformer adds what needs context (edges, shadow shape, continuity across frames).
        head_in = cfg.in_channels + cfg.global_in + cfg.token_features
        self.pixel_head = nn.Sequential(nn.Linear(head_in, cfg.pixel_hidden), nn.SiLU(),
                                        nn.Linear(cfg.pixel_hidden, cfg.pixel_hidden), nn.SiLU(),
                                        nn.Linear(cfg.pixel_hidden, cfg.out_channels))
        self.token_head = nn.Linear(cfg.dim, cfg.token_features) if cfg.token_features else None
        self._layout_cache: dict[tuple, dict[bool, WindowLayout]] = {}  # see _layouts; not part of the state
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.pos_time, std=0.02)
        for block in self.blocks:  # adaLN-Zero: every residual branch starts closed
            nn.init.zeros_(block.ada[-1].weight)
            nn.init.zeros_(block.ada[-1].bias)
        nn.init.zeros_(self.final.ada[-1].weight)
        nn.init.zeros_(self.final.ada[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)
        if self.summaries is not None:  # closed: a widened model starts as its source
            for summary in [*self.summaries, self.final_summary]:
                nn.init.zeros_(summary.weight)
                nn.init.zeros_(summary.bias)
        if self.config.output == "shading":  # start as the albedo under unit gain, the world's colour around it
            nn.init.zeros_(self.pixel_head[-1].weight)

    def _pixel_inputs(self, x: torch.Tensor, cond: Conditions) -> torch.Tensor:
        """Every per-pixel input, channels last: (B, T, H, W, Cin).

        Channels last because both readers want it: patchifying groups ``(p1 p2 c)`` and the pixel
        head is a matrix product over the channel axis; built so, the inputs are copied once (the
        concatenation) instead of once more for each reader.
        """
        b, t, _, h, w = x.shape
        parts = [channels_last(x)]
        if self.config.use_physics:
            parts += [channels_last(cond.maps.to(x.dtype)), self.material_emb(cond.material).to(x.dtype)]
        k = 3 * self.config.context_frames
        if cond.context is not None:
            if cond.context.shape[1] != k:
                raise ValueError(f"model takes {self.config.context_frames} context frames, got {cond.context.shape[1] // 3}")
            flag = cond.has_context.to(x.dtype)[:, None, None, None, None].expand(b, t, h, w, 1)
            ctx = cond.context.to(x.dtype).permute(0, 2, 3, 1)[:, None].expand(b, t, h, w, k) * flag
        else:
            flag = x.new_zeros(b, t, h, w, 1)
            ctx = x.new_zeros(b, t, h, w, k)
        parts += [ctx, flag]
        if self.config.pbr:
            if cond.pbr is None or cond.environment is None:
                raise ValueError("this model renders the Cycles look and needs the pbr conditions "
                                 "(condition arrays with pbr, area_light and environment)")
            parts.append(channels_last(cond.pbr[:, :, :self.config.pbr_channels].to(x.dtype)))  # an older checkpoint reads fewer
        return torch.cat(parts, dim=-1)

    @torch.compiler.disable  # host-side index work and a cache: left out of a compiled graph
    def _layouts(self, rows: int, cols: int, device: torch.device) -> dict[bool, WindowLayout]:
        """The unshifted and shifted window layouts of a token grid, with their rotary tables; built once
        per grid size and device (0.37 ms a forward at 64², 5 % of a single env frame) and kept."""
        key, cache = (rows, cols, str(device)), self._layout_cache
        if key not in cache:
            if len(cache) >= 16:  # many sizes (a resolution sweep): keep the newest few
                cache.clear()
            rope = rope_tables(*rope_2d(self.config.dim // self.config.heads, rows, cols, device))
            cache[key] = {shift: window_layout(rows, cols, self.config.window, shift, rope) for shift in (False, True)}
        return cache[key]

    def _global(self, cond: Conditions) -> torch.Tensor:
        if not self.config.pbr:
            return cond.global_
        return torch.cat([cond.global_, cond.environment.to(cond.global_.dtype)], dim=-1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Conditions) -> torch.Tensor:
        """Predict for noisy frames ``x`` (B, T, 3, H, W) at flow time ``t`` (B,); any H and W."""
        cfg = self.config
        b, frames, _, h, w = x.shape
        if frames > cfg.frames:
            raise ValueError(f"model takes up to {cfg.frames} frames per window, got {frames}")
        inp = self._pixel_inputs(x, cond)  # (B, T, H, W, Cin)
        p = cfg.patch
        pad_h, pad_w = (-h) % p, (-w) % p
        rows, cols = (h + pad_h) // p, (w + pad_w) // p
        if pad_h or pad_w:  # replicate the border so a partial patch sees plausible inputs
            padded = F.pad(inp.flatten(0, 1).permute(0, 3, 1, 2), (0, pad_w, 0, pad_h), mode="replicate")
            tokens = rearrange(padded, "bt c (gh p1) (gw p2) -> bt (gh gw) (p1 p2 c)", p1=p, p2=p)
        else:
            tokens = rearrange(inp, "b t (gh p1) (gw p2) c -> (b t) (gh gw) (p1 p2 c)", p1=p, p2=p)
        tokens = self.patch_embed(tokens) + self.pos_time[:frames].repeat(b, 1)[:, None]
        glob = self._global(cond)
        c = self.t_embed(t) + self.g_embed(glob.to(self.t_embed.mlp[0].weight.dtype))  # (B, D)
        c = c.repeat_interleave(frames, dim=0)  # (B*T, D)
        layouts = self._layouts(rows, cols, tokens.device)
        for i, block in enumerate(self.blocks):
            summary = self.summaries[i - 1] if self.summaries is not None and i else None
            tokens = block(tokens, with_summary(c, tokens, summary), frames, layouts[block.space.shift])
        c = with_summary(c, tokens, self.final_summary)
        features = None
        if self.token_head is not None:
            features = self.token_head(F.layer_norm(tokens, (cfg.dim,)))
            features = token_maps(features, rows, cols, p, h, w, frames)
        out = token_pixels(self.final(tokens, c), cfg.head_blend, rows, cols, p, frames)  # (B*T, N, q*q*C) → pixels
        chunk = PIXEL_CHUNK if x.device.type == "cpu" else None
        out = out[:, :, :h, :w] + pixel_mlp(self.pixel_head, inp, glob, chunk, features)
        if cfg.output == "shading":
            out = self._shade(out, cond)
        return out.permute(0, 1, 4, 2, 3)

    def _shade(self, out: torch.Tensor, cond: Conditions) -> torch.Tensor:
        """Gain and offset (B, T, H, W, 6) → the frame in [-1, 1] (see ``DiTConfig.output``); in float32,
        as the sRGB curve is steep near black."""
        out = out.float()
        albedo = srgb_decode((channels_last(cond.maps[:, :, ALBEDO_CHANNELS].float()) + 1) / 2)
        fg = channels_last(cond.maps[:, :, FOREGROUND_CHANNEL:FOREGROUND_CHANNEL + 1].float())
        gain = F.softplus(out[..., :3] + UNIT_GAIN)
        linear = fg * gain * albedo + out[..., 3:]
        if self.config.pbr and self.config.pbr_channels >= BACKGROUND_CHANNELS.stop:  # 0 on bodies already
            linear = linear + srgb_decode(channels_last(cond.pbr[:, :, BACKGROUND_CHANNELS].float()))
        return srgb_encode_unclipped(linear) * 2 - 1

    def config_dict(self) -> dict:
        """The config as a JSON-ready dict."""
        return asdict(self.config)


def build_model(preset: str = "small", **overrides) -> WorldDiT:
    """A WorldDiT from a named preset (``tiny``, ``small``, ``base``, ``large``) with optional overrides."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets are {', '.join(PRESETS)}")
    return WorldDiT(DiTConfig(**{**PRESETS[preset], **overrides}))
