"""Atomic file writing and safe reading of the arrays worldsim produces."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from worldsim.errors import DataError


def cache_dir(kind: str) -> Path:
    """A per-kind cache directory (``$WORLDSIM_CACHE`` or ``~/.cache/worldsim``), created on first use."""
    root = Path(os.environ.get("WORLDSIM_CACHE", Path.home() / ".cache" / "worldsim"))
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_path(path: str | Path) -> Path:
    """A temporary sibling path; write there, then :func:`os.replace` onto ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically: concurrent readers see the old file or the whole new one."""
    path = Path(path)
    tmp = atomic_path(path)
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def save_npz(path: str | Path, compress: bool = True, **arrays: Any) -> None:
    """Write arrays to ``path`` atomically: readers see the old file or the whole new one."""
    path = Path(path)
    tmp = atomic_path(path)
    with open(tmp, "wb") as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def append_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """Add arrays to an existing ``.npz`` atomically, without rewriting the ones it holds: a copy gets
    the new members (deflated, as :func:`save_npz` writes them) and replaces the file."""
    import shutil

    path = Path(path)
    tmp = atomic_path(path)
    shutil.copyfile(path, tmp)
    with zipfile.ZipFile(tmp, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_npz(path: str | Path, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` (or only ``keys``: the others are not decompressed) without
    unpickling, with a clear error for a bad file.

    Raises:
        DataError: missing, truncated or corrupt file, one holding pickled objects, or one without
            one of ``keys``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in (data.files if keys is None else keys)}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{path}: holds pickled objects, which worldsim refuses to load (unsafe)") from None
        raise DataError(f"{path}: corrupt or truncated ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise DataError(f"{path}: corrupt or truncated ({type(exc).__name__}: {exc})") from None


def npz_shapes(path: str | Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each array's shape and dtype in an ``.npz``, read from the headers alone (nothing decompressed past
    them), with a clear error for a bad file."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            out = {}
            for name in archive.namelist():
                with archive.open(name) as member:
                    version = np.lib.format.read_magic(member)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(member)
                out[name.removesuffix(".npy")] = (shape, dtype)
            return out
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: corrupt or truncated ({type(exc).__name__}: {exc})") from None


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write ``uint8 (H,W,3)`` or ``(H,W)`` as a PNG atomically, with the standard library alone (no
    imageio: the training side runs on machines where only torch and numpy are installed)."""
    import struct
    import zlib

    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    colour = 2 if image.ndim == 3 else 0
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)  # filter 0 per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b"")
    write_atomic(path, data)
