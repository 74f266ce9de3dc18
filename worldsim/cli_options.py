"""Argument types and options that several ``worldsim`` subcommands share (:mod:`worldsim.cli`,
:mod:`worldsim.cli_train`): each type turns a bad value into one argparse error naming it."""

from __future__ import annotations

import argparse


def resolution(text: str) -> tuple[int, int]:
    """``WxH`` -> (W, H), each side from 8 to 4096."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, e.g. 128x128, got {text!r}") from None
    if not (8 <= w <= 4096 and 8 <= h <= 4096):
        raise argparse.ArgumentTypeError(f"resolution must be between 8 and 4096 per side, got {text!r}")
    return w, h


def checked(kind, valid, requirement: str):
    """An argparse type: ``kind(text)`` if ``valid`` holds for it, else an error saying ``requirement``."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}")
        return value
    return parse


def positive(kind):
    """An argparse type: ``kind(text)`` above 0."""
    return checked(kind, lambda v: v > 0, "> 0")


fraction = checked(float, lambda v: 0 <= v <= 1, "from 0 to 1")


def factors(text: str) -> tuple[int, ...]:
    """``2,4`` -> (2, 4): downscale factors (:func:`worldsim.conditioning.downscale.check_factors`)."""
    from worldsim.conditioning.downscale import check_factors

    try:
        return check_factors(tuple(int(part) for part in text.split(",")))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated even integers of 2 or more, such as 2,4; "
                                         f"got {text!r} ({err})") from None


def shard_range(text: str) -> tuple[int, int | None]:
    """``START:STOP`` or ``START:`` (to the end), shard indices as Python slices count them."""
    start, sep, stop = text.partition(":")
    if sep:
        try:
            return int(start), int(stop) if stop else None
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"expected START:STOP or START:, e.g. 192:256, got {text!r}")


def sampling_options(sub: argparse.ArgumentParser) -> None:
    """``--steps`` and ``--temperature``, whose defaults are the checkpoint's own (see ``Renderer``)."""
    sub.add_argument("--steps", type=positive(int), default=None,
                     help="sampling steps (default: the checkpoint's own, sampling_steps in its JSON, else 4)")
    sub.add_argument("--temperature", type=float, default=None,
                     help="starting-noise scale, 0 to 2 (default: the checkpoint's own, else 1; 0: the mean image)")
    sub.add_argument("--feedback", action=argparse.BooleanOptionalAction, default=None,
                     help="condition each window on the model's own frames before it (default: the checkpoint's "
                          "own, sampling_feedback in its JSON, else on)")


def precision_option(sub: argparse.ArgumentParser) -> None:
    """``--precision``: the model's matrix products in fp32 or bf16 autocast, or auto."""
    sub.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                     help="bf16: matrix products in bfloat16, fast on GPUs and on CPUs with native bf16 "
                          "(AVX512-BF16, AMX); frames within a few 8-bit levels of fp32's. auto (default): "
                          "bf16 where the device has it natively, else fp32")
