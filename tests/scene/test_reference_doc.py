"""docs/scenes.md lists every field of the scene format (a field added without a line fails here)."""

from __future__ import annotations

import re
import typing

import pytest
from pydantic import BaseModel

from worldsim.scene import constraints, events, schema, settings, view

from ..conftest import ROOT

DOC = (ROOT / "docs" / "scenes.md").read_text()


def _models() -> list[type[BaseModel]]:
    found = []
    for module in (settings, schema, view, events, constraints):
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_field_is_documented(model):
    missing = [name for name in model.model_fields if f"`{name}`" not in DOC]
    assert not missing, f"{model.__name__}: {missing} not in docs/scenes.md"


def test_every_type_and_event_is_documented():
    for union in (schema.Body, events.Event, constraints.Constraint):
        for member in typing.get_args(typing.get_args(union)[0]):
            kind = typing.get_args(member.model_fields["type"].annotation)[0]
            assert re.search(rf"`{kind}`", DOC), kind


def test_documented_physics_defaults_are_the_real_ones():
    defaults = settings.PhysicsSettings()
    for name in ("friction", "rolling_friction", "spinning_friction", "restitution", "linear_damping",
                 "angular_damping", "combine", "restitution_threshold"):
        value = getattr(defaults, name)
        shown = value if isinstance(value, str) else f"{value:g}" if value != int(value) else f"{value:.1f}"
        assert re.search(rf"\| `{name}` \| `{re.escape(str(shown))}` \|", DOC), (name, shown)
