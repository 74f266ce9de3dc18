"""Checks of a valid scene that warn rather than refuse: it simulates, but likely not as meant.

Bullet's iterative solver handles a heavy body resting on a light one badly: measured with two
0.2 m boxes, the default settings let a 100:1 stack sink 3 mm into the light box, and at 1,000:1 the
heavy box passes through it to the floor. Substeps and solver iterations fix it (4 and 200 held
1,000:1; 8 and 200 held 10,000:1), at a cost in speed, so the scene author decides.
"""

from __future__ import annotations

import itertools
import warnings

from worldsim.errors import SceneWarning
from worldsim.scene.mass import body_mass
from worldsim.scene.schema import SceneSpec

MASS_RATIO_WARN = 100.0


def _settings_for(ratio: float) -> tuple[int, int]:
    """(substeps, solver_iterations) measured to keep a stack of this mass ratio stable."""
    return (4, 200) if ratio < 1_000 else (8, 200)


def warn_mass_ratios(spec: SceneSpec) -> None:
    """Warn about pairs of moving, colliding bodies whose masses differ by 100:1 or more.

    Any two such bodies can touch; the warning says which settings hold such a stack, and is quiet
    when the scene already uses them.
    """
    moving = [(b, body_mass(b)) for b in spec.bodies if not b.static and b.collide]
    worst = None
    for (a, ma), (b, mb) in itertools.combinations(moving, 2):
        if min(ma, mb) <= 0:
            continue
        ratio = max(ma, mb) / min(ma, mb)
        if ratio >= MASS_RATIO_WARN and (worst is None or ratio > worst[0]):
            worst = (ratio, a.name, ma, b.name, mb)
    if worst is None:
        return
    ratio, a, ma, b, mb = worst
    substeps, iterations = _settings_for(ratio)
    if spec.sim.substeps >= substeps and spec.sim.solver_iterations >= iterations:
        return
    warnings.warn(
        f"{spec.source}: bodies {a!r} ({ma:.3g} kg) and {b!r} ({mb:.3g} kg) differ in mass {ratio:.0f}:1; "
        f"if one rests on the other, the light one is crushed or passed through. Set sim.substeps: {substeps} "
        f"and sim.solver_iterations: {iterations} (measured to hold such a stack), or keep ratios under "
        f"{MASS_RATIO_WARN:.0f}:1", SceneWarning, stacklevel=3)
