"""A small image encoder for SAC from pixels, with DrQ's random-shift augmentation.

Stable-Baselines3's default ``NatureCNN`` (512 unnormalised features, Atari strides) did not learn
on worldsim's 64² frames in our runs (see the README). What makes pixel SAC sample-efficient in
the literature (SAC-AE, DrQ: Kostrikov et al. 2020) is small: a few 3×3 convolutions, a
low-dimensional feature squashed by LayerNorm and tanh, and random shifts of ±``pad`` pixels on the
images the networks train on, so the critic cannot memorise exact pixel positions. Shifts apply
only in training mode: Stable-Baselines3 switches the policy to eval mode when it acts.

    from pixel_encoder import ShiftCNN
    SAC("CnnPolicy", env, policy_kwargs={"features_extractor_class": ShiftCNN})
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image of ``(B, C, H, W)`` by its own random offset in [−pad, pad]², edges replicated."""
    b, _, h, w = images.shape
    padded = nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    dy, dx = (torch.randint(0, 2 * pad + 1, (2, b), generator=generator, device=images.device))
    rows = (dy[:, None] + torch.arange(h, device=images.device))[:, None, :, None]  # (B,1,H,1)
    cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, None, :]  # (B,1,1,W)
    batch = torch.arange(b, device=images.device)[:, None, None, None]
    channels = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return padded[batch, channels, rows, cols]


class ShiftCNN(BaseFeaturesExtractor):
    """Four 3×3 convolutions → ``features_dim`` features (LayerNorm, tanh), shift-augmented in training.

    Args:
        observation_space: channels-first image space (SB3 transposes HWC images itself).
        features_dim: size of the feature vector the actor and critic heads see.
        pad: largest shift in pixels (DrQ uses 4 at 84²).
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 50, pad: int = 4):
        super().__init__(observation_space, features_dim)
        channels = observation_space.shape[0]
        self.pad = pad
        self.convs = nn.Sequential(
            nn.Conv2d(channels, 32, 3, stride=2), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, *observation_space.shape)).shape[1]
        self.head = nn.Sequential(nn.Linear(flat, features_dim), nn.LayerNorm(features_dim), nn.Tanh())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        if self.training and self.pad > 0:
            observations = random_shift(observations, self.pad)
        return self.head(self.convs(observations))


class ShiftCombined(BaseFeaturesExtractor):
    """For ``Dict`` observations (images beside vectors, e.g. ``proprio+rgb`` with goals): each image
    key through its own :class:`ShiftCNN`, each vector key flattened, all concatenated.

    SB3's ``CombinedExtractor`` does the same with ``NatureCNN``; this keeps DrQ's shifts and the
    small encoder. Every image is shifted independently, as DrQ does per view.
    """

    def __init__(self, observation_space: gym.spaces.Dict, features_dim: int = 50, pad: int = 4):
        from stable_baselines3.common.preprocessing import is_image_space

        images = {k: s for k, s in observation_space.spaces.items() if is_image_space(s, check_channels=False)}
        vectors = {k: s for k, s in observation_space.spaces.items() if k not in images}
        total = len(images) * features_dim + sum(int(torch.tensor(s.shape).prod()) for s in vectors.values())
        super().__init__(observation_space, total)
        self.encoders = nn.ModuleDict({k: ShiftCNN(s, features_dim, pad) for k, s in images.items()})
        self.vector_keys = sorted(vectors)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [enc(observations[k]) for k, enc in self.encoders.items()]
        parts += [observations[k].flatten(1) for k in self.vector_keys]
        return torch.cat(parts, dim=1)
