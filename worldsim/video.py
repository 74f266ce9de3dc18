"""Writing clips to MP4 (H.264 through the ffmpeg binary that imageio-ffmpeg ships)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from worldsim.io import atomic_path


def write_mp4(path: str | Path, frames: np.ndarray, fps: float, upscale: int = 1) -> None:
    """Write ``frames (T, H, W, 3) uint8`` atomically; odd sizes are padded for yuv420p.

    Args:
        path: output file.
        frames: the clip.
        fps: frames per second.
        upscale: nearest-neighbour factor, so tiny clips are watchable.
    """
    import imageio.v2 as imageio

    frames = np.asarray(frames, dtype=np.uint8)
    if upscale > 1:
        frames = frames.repeat(upscale, axis=1).repeat(upscale, axis=2)
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    path = Path(path)
    tmp = atomic_path(path).with_suffix(".mp4")
    writer = imageio.get_writer(tmp, fps=fps, codec="libx264", quality=8, macro_block_size=1,
                                ffmpeg_log_level="error", pixelformat="yuv420p")
    try:
        for frame in frames:
            writer.append_data(frame)
    finally:
        writer.close()
    os.replace(tmp, path)


def read_mp4(path: str | Path) -> np.ndarray:
    """Read every frame of a video as ``(T, H, W, 3) uint8``."""
    import imageio.v2 as imageio

    reader = imageio.get_reader(path)
    try:
        return np.stack([np.asarray(f)[..., :3] for f in reader])
    finally:
        reader.close()
