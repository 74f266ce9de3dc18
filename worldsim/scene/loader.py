"""Reading scene files: YAML → validated :class:`SceneSpec`, with errors that name file and field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from worldsim.errors import SceneError
from worldsim.scene.schema import FieldError, SceneSpec


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_scene(path: str | Path) -> SceneSpec:
    """Read and validate a scene file.

    Args:
        path: a YAML scene file; relative asset paths inside it resolve against its directory.

    Returns:
        The validated scene (randomization ranges kept; see :func:`worldsim.scene.sample`).

    Raises:
        SceneError: the file is missing, is not YAML, or breaks the schema.
    """
    path = Path(path)
    if not path.is_file():
        raise SceneError("scene file not found", file=str(path))
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - safe subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SceneError(f"not valid YAML: {where}{problem}", file=str(path)) from None
    except UnicodeDecodeError:
        raise SceneError("not a UTF-8 text file", file=str(path)) from None
    return scene_from_dict(doc, base_dir=path.parent, file=str(path))


def scene_from_dict(doc: Any, base_dir: str | Path | None = None, file: str | None = None) -> SceneSpec:
    """Validate a scene given as a Python dict (the same schema as the YAML files)."""
    if not isinstance(doc, dict):
        raise SceneError(f"a scene must be a mapping at the top level, got {type(doc).__name__}", file=file)
    context = {"base_dir": str(base_dir) if base_dir else None}
    try:
        spec = SceneSpec.model_validate(doc, context=context)
    except ValidationError as exc:
        raise _scene_error(exc, doc, file) from None
    except RecursionError:
        raise SceneError("document is nested too deeply", file=file) from None
    spec._source = file
    from worldsim.scene.randomize import check_randomize

    check_randomize(spec, file=file)
    if not spec.randomize:  # a randomized scene is checked as each concrete draw is made
        from worldsim.scene.checks import warn_mass_ratios

        warn_mass_ratios(spec)
    return spec


def _field_path(loc: tuple[Any, ...], doc: Any) -> str:
    """Render pydantic's ``loc`` as ``bodies[3].mass``, dropping union tags it inserts."""
    out = ""
    node = doc
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif isinstance(node, dict) and part in node:
            out += f".{part}" if out else str(part)
            node = node[part]
        elif isinstance(node, dict) and (node.get("type") == part or part[:1].isupper() or "[" in part):
            continue  # discriminator tag or union member name, not a field of the document
        else:
            out += f".{part}" if out else str(part)
            node = None
    return out


def _describe(error: dict[str, Any]) -> str:
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown key (check its spelling; unknown keys are not allowed)"
    if error["type"] == "missing":
        return "required field is missing"
    value = error.get("input")
    if isinstance(value, (int, float, str, bool)):
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        shown = repr(value) if len(repr(value)) < 60 else repr(value)[:57] + "..."
        return f"{msg} (got {shown})"
    return msg


def _scene_error(exc: ValidationError, doc: Any, file: str | None) -> SceneError:
    errors = exc.errors()
    # Union members each report; keep the first per path so the message stays one clear line.
    seen: dict[str, str] = {}
    for error in errors:
        path = _field_path(tuple(error["loc"]), doc)
        raised = error.get("ctx", {}).get("error")
        if isinstance(raised, FieldError):  # a cross-field rule names its own field below the model's
            path = f"{path}.{raised.field}" if path else raised.field
        seen.setdefault(path, _describe(error))
    first_path, first_msg = next(iter(seen.items()))
    extra = f" (and {len(seen) - 1} more problem{'s' if len(seen) > 2 else ''})" if len(seen) > 1 else ""
    return SceneError(first_msg + extra, file=file, field=first_path or None)
