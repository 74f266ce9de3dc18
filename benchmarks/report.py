"""What the benchmark scripts share: the line naming the machine, and the JSON + markdown they write."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch


def device_line(device: str | torch.device, **extra) -> str:
    """``cpu (x86_64, 2 cores, torch 2.13.0+cpu, 1 threads[, key: value...])``: the figures' machine."""
    details = [platform.machine(), f"{os.cpu_count()} cores", f"torch {torch.__version__}",
               f"{torch.get_num_threads()} threads", *(f"{k.replace('_', ' ')}: {v}" for k, v in extra.items())]
    return f"{torch.device(device).type} ({', '.join(details)})"


def write_report(out: Path, name: str, device: str, rows: list[dict], table: str) -> None:
    """Print ``table`` and write ``out/NAME.json`` (the device and the rows) and ``out/NAME.md`` (the table)."""
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"device": device, "rows": rows}, indent=2))
    (out / f"{name}.md").write_text(table + "\n")
