"""Randomization: ``randomize: {"bodies[ball].mass": {uniform: [0.5, 2]}}`` → concrete scenes.

A path uses the same syntax as error messages: dotted fields and ``[i]`` indices; a body or camera
may be named instead of indexed (``bodies[ball]``). ``uniform`` and ``normal`` take scalars or
equal-length lists (element-wise); ``randint`` is inclusive; ``choice`` picks any value.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from worldsim.errors import SceneError
from worldsim.scene.schema import Distribution, SceneSpec

_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[([^\]]+)\]")


def _tokens(path: str) -> list[str | int]:
    tokens: list[str | int] = []
    pos = 0
    for match in _TOKEN.finditer(path):
        if match.start() != pos and path[pos:match.start()] != ".":
            raise ValueError(f"cannot parse path {path!r}")
        field, index = match.groups()
        tokens.append(field if field is not None else (int(index) if index.lstrip("-").isdigit() else index))
        pos = match.end()
    if pos != len(path) or not tokens:
        raise ValueError(f"cannot parse path {path!r}")
    return tokens


def _locate(doc: Any, path: str) -> tuple[Any, str | int]:
    """Return (container, key) such that ``container[key]`` is the value at ``path``."""
    tokens = _tokens(path)
    node = doc
    for i, token in enumerate(tokens):
        if isinstance(token, str) and isinstance(node, list):
            named = [j for j, item in enumerate(node) if isinstance(item, dict) and item.get("name") == token]
            if not named:
                raise ValueError(f"no item named {token!r} at {path!r}")
            token = named[0]
        last = i == len(tokens) - 1
        if isinstance(node, dict) and isinstance(token, str) and token in node:
            if last:
                return node, token
            node = node[token]
        elif last and isinstance(node, dict) and isinstance(token, str):
            return node, token  # a field left unset (e.g. friction, which defaults to the physics section)
        elif isinstance(node, list) and isinstance(token, int) and -len(node) <= token < len(node):
            if last:
                return node, token
            node = node[token]
        else:
            raise ValueError(f"{path!r} does not name a field of this scene")
    raise ValueError(f"{path!r} does not name a field")


def _draw(dist: Distribution, rng: np.random.Generator) -> Any:
    if dist.choice is not None:
        return dist.choice[int(rng.integers(len(dist.choice)))]
    if dist.randint is not None:
        lo, hi = dist.randint
        return int(rng.integers(int(lo), int(hi) + 1))
    lo, hi = dist.uniform if dist.uniform is not None else dist.normal
    lo_a, hi_a = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if lo_a.shape != hi_a.shape:
        raise ValueError("the two values must have the same shape")
    value = np.asarray(rng.uniform(lo_a, hi_a) if dist.uniform is not None else rng.normal(lo_a, hi_a))
    return value.tolist() if value.ndim else float(value)


def sample(spec: SceneSpec, seed: int) -> SceneSpec:
    """Return a concrete scene with every randomized field drawn from its range.

    The same ``(spec, seed)`` always gives the same scene. Paths are applied in sorted order so the
    result does not depend on how the YAML file happened to order them.
    """
    if not spec.randomize:
        return spec
    rng = np.random.default_rng(seed)
    doc = spec.model_dump(mode="python", exclude={"randomize"}, exclude_none=True)
    for path in sorted(spec.randomize):
        container, key = _locate(doc, path)
        container[key] = _draw(spec.randomize[path], rng)
    from worldsim.scene.loader import scene_from_dict

    return scene_from_dict(doc, file=spec._source)


def with_values(spec: SceneSpec, values: dict[str, Any], file: str | None = None) -> SceneSpec:
    """A copy of ``spec`` with fields set, e.g. ``{"bodies[block].friction": 0.3}`` (paths as in :func:`sample`).

    Raises:
        SceneError: a path names no field, or a value breaks the schema (named like any scene error).
    """
    from worldsim.scene.loader import scene_from_dict

    doc = spec.model_dump(mode="python", exclude_none=True)
    for path, value in values.items():
        try:
            container, key = _locate(doc, path)
        except ValueError as exc:
            raise SceneError(str(exc), file=file, field=path) from None
        container[key] = value
    return scene_from_dict(doc, file=file or spec._source)


def check_randomize(spec: SceneSpec, file: str | None = None) -> None:
    """Refuse randomize paths that name no field, or whose draws break the schema."""
    if not spec.randomize:
        return
    doc = spec.model_dump(mode="python", exclude={"randomize"}, exclude_none=True)
    rng = np.random.default_rng(0)
    for path in sorted(spec.randomize):
        try:
            container, key = _locate(doc, path)
            value = _draw(spec.randomize[path], rng)
        except (ValueError, TypeError) as exc:
            raise SceneError(str(exc), file=file, field=f"randomize[{path!r}]") from None
        current = container.get(key) if isinstance(container, dict) else container[key]
        if isinstance(current, dict) or (isinstance(current, list) and np.shape(value) != np.shape(current)):
            raise SceneError(f"draws {value!r} but the field holds {current!r}", file=file, field=f"randomize[{path!r}]")
    try:
        sample(spec, 0)
    except SceneError as exc:
        raise SceneError(f"a draw breaks the scene: {exc.detail} at {exc.field}", file=file,
                         field="randomize") from None
