"""WorldDiT: a diffusion transformer over spacetime patches, conditioned on physics maps.

In the style of DiT's ``models.py``: adaLN-Zero blocks through ``modulate``, zero-initialised
modulation and output layers, size presets in a dict. Attention is factorised: each block attends
over the patches of a frame (space), then over the frames of a patch location (time).
The network knows nothing about noise: :mod:`worldsim.flow` wraps it.

Conditioning enters three ways: per-pixel maps (and learned embeddings of the material id and of
the object token under each pixel) are concatenated to the noisy frame before patchifying; the
flow time and global light vector drive adaLN; the previous window's last frame is a context input.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from worldsim.conditioning import COND_CHANNELS, ENV_DIM, GLOBAL_DIM, PBR_CHANNELS, Conditions
from worldsim.dataset import MAX_OBJECTS
from worldsim.materials import MATERIALS


@dataclass
class DiTConfig:
    """Everything needed to rebuild a WorldDiT (saved as JSON beside the weights)."""

    resolution: int = 64
    frames: int = 4
    patch: int = 4
    dim: int = 192
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    material_dim: int = 8
    token_dim: int = 16
    cond_channels: int = COND_CHANNELS
    global_dim: int = GLOBAL_DIM
    use_physics: bool = True  # False: the pure-video baseline (no maps, only context frames)
    pixel_hidden: int = 64
    prediction: str = "x"  # what the output means: "x" clean frames (default) or "v" flow velocity
    context_frames: int = 1  # frames before the window given as context (the pure-video baseline uses 4)
    pbr: bool = False  # the Cycles look: also sees surface (roughness, metallic, specular), area light and sky

    @property
    def in_channels(self) -> int:
        """Channels per pixel entering the patch embedding."""
        physics = self.cond_channels + self.material_dim + self.token_dim if self.use_physics else 0
        extra = PBR_CHANNELS if self.pbr else 0
        return 3 + physics + 3 * self.context_frames + 1 + extra  # noisy frame, physics, context rgb, flag, pbr

    @property
    def global_in(self) -> int:
        """Width of the global control vector (the light, plus the environment for the Cycles look)."""
        return self.global_dim + (ENV_DIM if self.pbr else 0)


PRESETS: dict[str, dict] = {
    "tiny": dict(resolution=32, frames=2, patch=8, dim=32, depth=1, heads=2, material_dim=4, token_dim=4, pixel_hidden=8),
    "small": dict(resolution=64, frames=4, patch=8, dim=128, depth=4, heads=4),
    "base": dict(resolution=64, frames=4, patch=4, dim=256, depth=8, heads=4, pixel_hidden=96),
    "large": dict(resolution=128, frames=4, patch=4, dim=512, depth=12, heads=8),
}


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: ``x * (1 + scale) + shift`` with per-sample shift/scale broadcast over tokens."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def sincos_2d(dim: int, grid: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embedding, (grid*grid, dim)."""
    coords = torch.stack(torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij"), -1).reshape(-1, 2)
    quarter = dim // 4
    freqs = 1.0 / (10000 ** (torch.arange(quarter) / quarter))
    parts = []
    for axis in range(2):
        angles = coords[:, axis:axis + 1].float() * freqs  # (N, quarter)
        parts += [angles.sin(), angles.cos()]
    emb = torch.cat(parts, dim=1)
    return F.pad(emb, (0, dim - emb.shape[1]))


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


class Attention(nn.Module):
    """Multi-head self-attention with fused ``scaled_dot_product_attention``."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


class DiTBlock(nn.Module):
    """Space attention, time attention and an MLP, each gated by adaLN-Zero."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norms = nn.ModuleList([nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6) for _ in range(3)])
        self.space = Attention(dim, heads)
        self.time = Attention(dim, heads)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 9 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor, frames: int) -> torch.Tensor:
        # x: (B*T, N, D) tokens of each frame; c: (B*T, D)
        mods = self.ada(c).chunk(9, dim=-1)
        h = modulate(self.norms[0](x), mods[0], mods[1])
        x = x + mods[2].unsqueeze(1) * self.space(h)
        h = modulate(self.norms[1](x), mods[3], mods[4])
        h = rearrange(h, "(b t) n d -> (b n) t d", t=frames)
        h = rearrange(self.time(h), "(b n) t d -> (b t) n d", n=x.shape[1])
        x = x + mods[5].unsqueeze(1) * h
        h = modulate(self.norms[2](x), mods[6], mods[7])
        return x + mods[8].unsqueeze(1) * self.mlp(h)


class FinalLayer(nn.Module):
    """adaLN then a linear map from tokens back to patches of RGB velocity."""

    def __init__(self, dim: int, patch: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, patch * patch * 3)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class WorldDiT(nn.Module):
    """The physics-conditioned renderer: ``forward(x_t, t, cond) → velocity``, shapes (B, T, 3, H, W)."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = cfg = config
        grid = cfg.resolution // cfg.patch
        self.material_emb = nn.Embedding(len(MATERIALS) + 1, cfg.material_dim)
        self.slot_emb = nn.Embedding(MAX_OBJECTS, cfg.token_dim)
        self.token_mlp = nn.Sequential(nn.Linear(4 + cfg.material_dim, cfg.token_dim), nn.SiLU(),
                                       nn.Linear(cfg.token_dim, cfg.token_dim))
        self.patch_embed = nn.Linear(cfg.in_channels * cfg.patch * cfg.patch, cfg.dim)
        self.register_buffer("pos_space", sincos_2d(cfg.dim, grid), persistent=False)
        self.pos_time = nn.Parameter(torch.zeros(cfg.frames, cfg.dim))
        self.t_embed = TimestepEmbedder(cfg.dim)
        self.g_embed = nn.Sequential(nn.Linear(cfg.global_in, cfg.dim), nn.SiLU(), nn.Linear(cfg.dim, cfg.dim))
        self.blocks = nn.ModuleList([DiTBlock(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth)])
        self.final = FinalLayer(cfg.dim, cfg.patch)
        # A per-pixel head sees every input at full resolution (albedo texture, n·l, visibility and the
        # global light), so sharp detail and local shading do not have to squeeze through a patch token;
        # the transformer adds what needs context (edges, shadow shape, continuity across frames).
        self.pixel_head = nn.Sequential(nn.Linear(cfg.in_channels + cfg.global_in, cfg.pixel_hidden), nn.SiLU(),
                                        nn.Linear(cfg.pixel_hidden, cfg.pixel_hidden), nn.SiLU(),
                                        nn.Linear(cfg.pixel_hidden, 3))
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

    def _pixel_inputs(self, x: torch.Tensor, cond: Conditions) -> torch.Tensor:
        b, t, _, h, w = x.shape
        parts = [x]
        if self.config.use_physics:
            tokens = self.token_mlp(torch.cat([cond.obj_color, self.material_emb(cond.obj_material)], -1))
            tokens = tokens + self.slot_emb.weight[None, : tokens.shape[1]]  # (B, K, token_dim)
            seg = cond.segmentation.clamp_min(0).reshape(b, -1)  # (B, T*H*W)
            under = torch.gather(tokens, 1, seg[..., None].expand(-1, -1, tokens.shape[-1]))
            under = under * (cond.segmentation.reshape(b, -1, 1) >= 0)
            under = rearrange(under, "b (t h w) d -> b t d h w", t=t, h=h)
            mat = rearrange(self.material_emb(cond.material), "b t h w d -> b t d h w")
            parts += [cond.maps.to(x.dtype), mat.to(x.dtype), under.to(x.dtype)]
        if cond.context is not None:
            flag = cond.has_context.to(x.dtype)[:, None, None, None, None].expand(b, t, 1, h, w)
            k = 3 * self.config.context_frames
            if cond.context.shape[1] != k:
                raise ValueError(f"model takes {self.config.context_frames} context frames, got {cond.context.shape[1] // 3}")
            ctx = cond.context[:, None].to(x.dtype).expand(b, t, k, h, w) * flag
        else:
            flag = x.new_zeros(b, t, 1, h, w)
            ctx = x.new_zeros(b, t, 3 * self.config.context_frames, h, w)
        parts += [ctx, flag]
        if self.config.pbr:  # last, so a model widened from a TinyRenderer-look one keeps its channel layout
            if cond.pbr is None:
                raise ValueError("this model renders the Cycles look and needs the pbr conditions "
                                 "(condition arrays with pbr, area_light and environment)")
            parts.append(cond.pbr.to(x.dtype))
        return torch.cat(parts, dim=2)

    def _global(self, cond: Conditions) -> torch.Tensor:
        if not self.config.pbr:
            return cond.global_
        return torch.cat([cond.global_, cond.environment.to(cond.global_.dtype)], dim=-1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Conditions) -> torch.Tensor:
        """Predict the flow velocity for noisy frames ``x`` (B, T, 3, H, W) at flow time ``t`` (B,)."""
        cfg = self.config
        b, frames, _, h, w = x.shape
        if frames > cfg.frames or h != cfg.resolution or w != cfg.resolution:
            raise ValueError(f"model takes up to {cfg.frames} frames of {cfg.resolution}x{cfg.resolution}, "
                             f"got {frames} of {w}x{h}")
        inp = self._pixel_inputs(x, cond)  # (B, T, Cin, H, W)
        tokens = rearrange(inp, "b t c (gh p1) (gw p2) -> (b t) (gh gw) (p1 p2 c)", p1=cfg.patch, p2=cfg.patch)
        tokens = self.patch_embed(tokens) + self.pos_space[None]  # (B*T, N, D)
        tokens = tokens + self.pos_time[:frames].repeat(b, 1)[:, None]
        glob = self._global(cond)
        c = self.t_embed(t) + self.g_embed(glob.to(self.t_embed.mlp[0].weight.dtype))  # (B, D)
        c = c.repeat_interleave(frames, dim=0)  # (B*T, D)
        for block in self.blocks:
            tokens = block(tokens, c, frames)
        out = self.final(tokens, c)  # (B*T, N, p*p*3)
        grid = cfg.resolution // cfg.patch
        out = rearrange(out, "(b t) (gh gw) (p1 p2 c) -> b t c (gh p1) (gw p2)", t=frames, gh=grid, p1=cfg.patch,
                        p2=cfg.patch)
        g = glob.to(inp.dtype)[:, None, :, None, None].expand(b, frames, -1, h, w)
        pixels = rearrange(torch.cat([inp, g], dim=2), "b t c h w -> b t h w c")
        return out + rearrange(self.pixel_head(pixels), "b t h w c -> b t c h w")

    def config_dict(self) -> dict:
        """The config as a JSON-ready dict."""
        return asdict(self.config)


def widen_from(model: WorldDiT, state: dict[str, torch.Tensor], source: DiTConfig) -> None:
    """Start ``model`` from the weights of a model with fewer inputs (``source``, e.g. the TinyRenderer
    look), giving the new input channels zero weights: before any training it computes exactly what
    the source computes, and fine-tuning only has to learn what the new inputs change.

    Raises:
        ValueError: the two configs differ in anything but the added inputs.
    """
    cfg = model.config
    same = {k: v for k, v in asdict(source).items() if k != "pbr"}
    if {k: v for k, v in asdict(cfg).items() if k != "pbr"} != same:
        raise ValueError("can only widen a model with the same architecture (preset, resolution, context)")
    p, c_old, c_new, g_old = cfg.patch, source.in_channels, cfg.in_channels, source.global_in
    own = model.state_dict()
    for name, value in state.items():
        target = own[name]
        if name == "patch_embed.weight" and value.shape != target.shape:  # (D, p*p*C): pad C per pixel
            value = torch.cat([value.reshape(-1, p * p, c_old), value.new_zeros(value.shape[0], p * p, c_new - c_old)],
                              dim=2).reshape(target.shape)
        elif name == "pixel_head.0.weight" and value.shape != target.shape:  # columns: [pixel inputs, global]
            out = value.new_zeros(target.shape)
            out[:, :c_old] = value[:, :c_old]
            out[:, c_new:c_new + g_old] = value[:, c_old:]
            value = out
        elif name == "g_embed.0.weight" and value.shape != target.shape:
            value = torch.cat([value, value.new_zeros(value.shape[0], target.shape[1] - value.shape[1])], dim=1)
        if value.shape != target.shape:
            raise ValueError(f"cannot widen {name}: {tuple(value.shape)} -> {tuple(target.shape)}")
        own[name] = value
    model.load_state_dict(own)


def build_model(preset: str = "small", **overrides) -> WorldDiT:
    """A WorldDiT from a named preset (``tiny``, ``small``, ``base``, ``large``) with optional overrides."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets are {', '.join(PRESETS)}")
    return WorldDiT(DiTConfig(**{**PRESETS[preset], **overrides}))
