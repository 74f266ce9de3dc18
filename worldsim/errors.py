"""The library's own exceptions: every user-facing failure is one of these, with a clear message."""

from __future__ import annotations


class WorldsimError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero, without a traceback."""


class SceneError(WorldsimError):
    """A scene document is malformed: names the file, the field path and what was expected."""

    def __init__(self, message: str, file: str | None = None, field: str | None = None):
        self.file = file
        self.field = field
        self.detail = message
        where = ": ".join(part for part in (file, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


class MeshError(WorldsimError, ValueError):
    """A mesh file cannot be used (unreadable, empty, degenerate, non-manifold for a moving body).

    Also a ValueError, so a mesh checked inside scene validation becomes a field error.
    """


class ConfigError(WorldsimError, ValueError):
    """Options that cannot go together or lie out of range (e.g. a training config's fractions).

    Also a ValueError, as a bad argument to a function is one.
    """


class PhysicsError(WorldsimError):
    """The simulation blew up (NaN or runaway velocity) or was driven with bad input."""


class DataError(WorldsimError):
    """A dataset shard or checkpoint is truncated, corrupt, pickled or otherwise unreadable."""


class SceneWarning(UserWarning):
    """A scene that simulates but probably not as its author meant (bodies overlapping at t = 0,
    extreme mass ratios). The message names the file and the bodies or field."""
