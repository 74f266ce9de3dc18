"""``PhysicsWorld``: one PyBullet DIRECT client simulating one scene, deterministically.

>>> from worldsim.scene import scene_from_dict
>>> spec = scene_from_dict({"bodies": [{"name": "floor", "type": "plane"},
...     {"name": "ball", "type": "sphere", "radius": 0.1, "position": [0, 0, 1]}]})
>>> with PhysicsWorld(spec) as world:
...     world.step_frames(24)
...     round(float(world.state().positions[1, 2]), 2)  # it fell and rests on the floor
0.1
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pybullet as pb

from worldsim.errors import PhysicsError, SceneWarning
from worldsim.materials import material_id
from worldsim.physics.builders import BuiltBody, build_body, forget_textures, orientation_xyzw
from worldsim.physics.constraints import create_constraint
from worldsim.physics.events import EventQueue
from worldsim.physics.snapshot import Snapshot
from worldsim.scene.schema import SceneSpec, UrdfBody
from worldsim.scene.settings import contact_values
from worldsim.state import Contact, PhysicsState

PARK_Z = -1000.0  # inactive bodies wait far below the scene, outside every camera's far plane
# Bullet clamps multibody speeds at 100 m/s; a body at the clamp has left physics behind.
MAX_SPEED = 99.0
# Bodies placed inside each other deeper than this at t = 0 are pushed apart at speed: warn.
OVERLAP_TOLERANCE = 1e-3  # m
IDENTITY = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))


_WORLD_TOKENS = itertools.count()


class PhysicsWorld:
    """Simulates a :class:`SceneSpec`.

    Time advances in physics steps of ``spec.sim.timestep``; an output frame is
    ``spec.sim.steps_per_frame`` steps. Scripted events fire at the first step at or after their time.

    Poses are those of the frame the scene placed (a URDF's root link frame, a primitive's or a
    mesh's own origin); :meth:`state` also reports each body's centre of mass, which differs from
    that frame only for URDF bodies whose base link has an ``<inertial><origin>``.

    Warns (:class:`SceneWarning`, naming the file and both bodies) when two bodies, at least one
    of them moving, start inside each other: PyBullet would push them apart at speed.
    """

    def __init__(self, spec: SceneSpec, seed: int = 0, visual_faces: int | None = None):
        self.spec = spec
        self.seed = seed
        self.token = next(_WORLD_TOKENS)
        self.client = pb.connect(pb.DIRECT)
        self._step = 0
        self._contacts: dict[tuple[int, int], Contact] = {}
        self._joint_targets: dict[tuple[int, int], tuple[float, float]] = {}
        try:
            self._configure()
            self.bodies: list[BuiltBody] = [build_body(b, i, self.client, spec.physics, visual_faces)
                                             for i, b in enumerate(spec.bodies)]
            # Where each base's centre of mass sits in the frame the scene placed, and the inverse
            # (identity but for URDFs); computed once, used by every state() and set_pose.
            self._com_in_frame = [self._com_offset(built) if isinstance(body, UrdfBody) else IDENTITY
                                  for built, body in zip(self.bodies, spec.bodies, strict=True)]
            self._frame_in_com = [o if o is IDENTITY else pb.invertTransform(*o) for o in self._com_in_frame]
            self._constrained: set[tuple[int, int]] = set()
            for con in spec.constraints:
                self._add_constraint(con)
            self._dynamics = [self._read_dynamics(i) for i in range(len(self.bodies))]
            # PyBullet uid -> index into spec.bodies (-1 for uids that are not ours); used by the
            # contact scan every physics step and by the renderer's segmentation every frame.
            self.uid_to_index = np.full(max(b.uid for b in self.bodies) + 1, -1, dtype=np.int32)
            for i, built in enumerate(self.bodies):
                self.uid_to_index[built.uid] = i
            self.material_ids = np.array([material_id(b.material) for b in spec.bodies], dtype=np.int32)
            # Bodies whose base can move: the per-step blow-up check and parking only look at these.
            self._dynamic = [i for i, b in enumerate(spec.bodies) if not b.static]
            self.active = {i for i, b in enumerate(spec.bodies) if b.active}
            for i in set(range(len(spec.bodies))) - self.active:
                self._park(i)
            self.queue = EventQueue(spec.events, spec.sim.timestep)
            self._warn_overlaps()
        except BaseException:
            self.close()
            raise

    # --- lifecycle -------------------------------------------------------------------------
    def _configure(self) -> None:
        sim = self.spec.sim
        pb.resetSimulation(physicsClientId=self.client)
        self.gravity = tuple(sim.gravity)
        pb.setGravity(*sim.gravity, physicsClientId=self.client)
        pb.setPhysicsEngineParameter(fixedTimeStep=sim.timestep, numSubSteps=sim.substeps,
                                     numSolverIterations=sim.solver_iterations,
                                     restitutionVelocityThreshold=self.spec.physics.restitution_threshold,
                                     deterministicOverlappingPairs=1, physicsClientId=self.client)

    def _com_offset(self, built: BuiltBody) -> tuple[tuple, tuple]:
        info = pb.getDynamicsInfo(built.uid, -1, physicsClientId=self.client)
        return tuple(info[3]), tuple(info[4])

    def _add_constraint(self, con) -> None:
        a = self.index(con.body)
        b = -1 if con.to is None else self.index(con.to)
        pivot = list(con.pivot) if con.pivot is not None else list(self.spec.bodies[a].position)
        create_constraint(con, self.bodies[a].uid, -1 if b < 0 else self.bodies[b].uid, pivot, self.client)
        self._constrained.add((min(a, b), max(a, b)))

    def _read_dynamics(self, i: int) -> dict:
        """The base dynamics of body ``i`` as ``changeDynamics`` keywords (what a snapshot restores)."""
        info = pb.getDynamicsInfo(self.bodies[i].uid, -1, physicsClientId=self.client)
        body = self.spec.bodies[i]
        # PyBullet reports every value but damping, which therefore comes from the scene.
        values = contact_values(body, self.spec.physics, from_file=True)
        damping = {k: v for k, v in values.items() if k.endswith("Damping")}
        return {"mass": info[0], "localInertiaDiagonal": tuple(info[2]), "lateralFriction": info[1],
                "restitution": info[5], "rollingFriction": info[6], "spinningFriction": info[7], **damping}

    def _warn_overlaps(self) -> None:
        pb.performCollisionDetection(physicsClientId=self.client)
        depths: dict[tuple[int, int], float] = {}
        for point in pb.getContactPoints(physicsClientId=self.client):
            a, b = int(self.uid_to_index[point[1]]), int(self.uid_to_index[point[2]])
            key = (min(a, b), max(a, b))
            if a < 0 or b < 0 or a == b or key in self._constrained:
                continue
            if self.spec.bodies[a].static and self.spec.bodies[b].static:
                continue
            depths[key] = max(depths.get(key, 0.0), -point[8])
        for (a, b), depth in sorted(depths.items()):
            if depth > OVERLAP_TOLERANCE:
                na, nb = self.spec.bodies[a].name, self.spec.bodies[b].name
                warnings.warn(f"{self.spec.source}: bodies {na!r} and {nb!r} overlap by {depth * 1000:.1f} mm at t = 0; "
                              "PyBullet will push them apart at speed (move one, or check their sizes)",
                              SceneWarning, stacklevel=3)

    def close(self) -> None:
        """Disconnect the PyBullet client (idempotent)."""
        if getattr(self, "client", -1) >= 0:
            try:
                pb.disconnect(physicsClientId=self.client)
            except pb.error:
                pass
            forget_textures(self.client)
            self.client = -1

    def __enter__(self) -> "PhysicsWorld":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit pybullet may already be torn down
            pass

    # --- time ------------------------------------------------------------------------------
    @property
    def time(self) -> float:
        """Simulated seconds since the start."""
        return self._step * self.spec.sim.timestep

    @property
    def frame(self) -> int:
        """Index of the current output frame (frame 0 is t = 0)."""
        return self._step // self.spec.sim.steps_per_frame

    def step(self, n: int = 1) -> None:
        """Advance ``n`` physics steps, firing due events; contacts accumulate for :meth:`state`."""
        for _ in range(n):
            for event in self.queue.due(self._step):
                event.fire(self)
            for i in self.queue.forces_at(self._step):
                self.queue.apply_force(self, i)
            pb.stepSimulation(physicsClientId=self.client)
            self._step += 1
            for i in self._parked_dynamic():
                self._hold(i)  # parked bodies fall with gravity during a step: put them back
            self._collect_contacts()
            self.check_finite()  # every step: Bullet's speed clamp hides a blow-up within a few steps

    def step_frames(self, frames: int = 1) -> None:
        """Advance whole output frames."""
        self.step(frames * self.spec.sim.steps_per_frame)

    # --- bodies ----------------------------------------------------------------------------
    def uid(self, name: str) -> int:
        """PyBullet body id of the body called ``name``."""
        return self.bodies[self.index(name)].uid

    def index(self, name: str) -> int:
        """Index of the body called ``name`` in ``spec.bodies``."""
        for i, body in enumerate(self.spec.bodies):
            if body.name == name:
                return i
        raise KeyError(f"no body named {name!r}")

    def _park(self, i: int) -> None:
        self._hold(i)
        pb.setCollisionFilterGroupMask(self.bodies[i].uid, -1, 0, 0, physicsClientId=self.client)

    def _hold(self, i: int) -> None:
        """Put a parked body back at its parking spot, at rest."""
        uid = self.bodies[i].uid
        pb.resetBasePositionAndOrientation(uid, [0.0, 10.0 * i, PARK_Z], [0, 0, 0, 1], physicsClientId=self.client)
        pb.resetBaseVelocity(uid, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)

    def _parked_dynamic(self) -> list[int]:
        """Parked bodies that gravity moves (static ones stay where they were parked)."""
        return [i for i in self._dynamic if i not in self.active]

    def _active_dynamic(self) -> list[int]:
        return [i for i in self._dynamic if i in self.active]

    def _collision_mask(self, i: int) -> tuple[int, int]:
        """(group, mask): colliding with everything, or nothing when inactive or a visual-only marker."""
        return (1, 0xFFFF) if i in self.active and self.spec.bodies[i].collide else (0, 0)

    def spawn(self, name: str, position: list[float] | None = None, velocity: list[float] | None = None) -> None:
        """Bring an inactive body into the world at its declared (or the given) position."""
        i = self.index(name)
        body = self.spec.bodies[i]
        uid = self.bodies[i].uid
        self.active.add(i)
        pb.setCollisionFilterGroupMask(uid, -1, *self._collision_mask(i), physicsClientId=self.client)
        pb.resetBasePositionAndOrientation(uid, position or body.position, orientation_xyzw(body),
                                          physicsClientId=self.client)
        pb.resetBaseVelocity(uid, velocity or body.linear_velocity, body.angular_velocity, physicsClientId=self.client)

    def remove(self, name: str) -> None:
        """Take a body out of the world (it keeps its index; ``present`` becomes False)."""
        i = self.index(name)
        self.active.discard(i)
        self._park(i)

    def set_dynamics(self, name: str, **kwargs: float) -> None:
        """Change a body's dynamics mid-rollout, e.g. ``set_dynamics("block", mass=2.0, lateralFriction=0.1)``.

        Keyword arguments are those of ``pybullet.changeDynamics`` (mass, lateralFriction,
        rollingFriction, spinningFriction, restitution, linearDamping, angularDamping).
        """
        bad = [k for k, v in kwargs.items() if not math.isfinite(float(v)) or float(v) < 0]
        if bad:
            raise PhysicsError(f"set_dynamics({name!r}): {', '.join(bad)} must be finite and >= 0")
        i = self.index(name)
        unknown = sorted(set(kwargs) - set(self._dynamics[i]))
        if unknown:
            raise PhysicsError(f"set_dynamics({name!r}): unknown keyword(s) {', '.join(unknown)}; "
                               f"expected {', '.join(k for k in self._dynamics[i] if k != 'localInertiaDiagonal')}")
        pb.changeDynamics(self.uid(name), -1, physicsClientId=self.client, **kwargs)
        # Read back: a new mass also rescales the inertia, and a snapshot must restore both.
        info = pb.getDynamicsInfo(self.bodies[i].uid, -1, physicsClientId=self.client)
        self._record_dynamics(i, {**self._dynamics[i], **kwargs, "mass": info[0], "localInertiaDiagonal": tuple(info[2])})

    def _record_dynamics(self, i: int, values: dict) -> None:
        """Remember body ``i``'s base dynamics; its recorded mass (a URDF's: all links) follows the base's."""
        self.bodies[i].mass += values["mass"] - self._dynamics[i]["mass"]
        self._dynamics[i] = values

    def set_gravity(self, gravity: list[float]) -> None:
        """Change the world's gravity (m/s², world frame) from the next step on."""
        if len(gravity) != 3 or not all(math.isfinite(float(g)) for g in gravity):
            raise PhysicsError(f"gravity must be 3 finite numbers, got {gravity!r}")
        self.gravity = tuple(float(g) for g in gravity)
        pb.setGravity(*self.gravity, physicsClientId=self.client)

    def apply_impulse(self, name: str, impulse: list[float], point: list[float] | None = None) -> None:
        """Apply an impulse (N·s) during the next physics step, at ``point`` (world) or the centre of mass."""
        _check_vector("impulse", impulse)
        uid = self.uid(name)
        if point is None:
            point = pb.getBasePositionAndOrientation(uid, physicsClientId=self.client)[0]
        force = [j / self.spec.sim.timestep for j in impulse]
        pb.applyExternalForce(uid, -1, force, point, pb.WORLD_FRAME, physicsClientId=self.client)

    def apply_force(self, name: str, force: list[float], point: list[float] | None = None) -> None:
        """Apply a world-frame force (N) during the next physics step."""
        _check_vector("force", force)
        uid = self.uid(name)
        if point is None:
            point = pb.getBasePositionAndOrientation(uid, physicsClientId=self.client)[0]
        pb.applyExternalForce(uid, -1, list(force), point, pb.WORLD_FRAME, physicsClientId=self.client)

    def set_velocity(self, name: str, linear: list[float], angular: list[float] | None = None) -> None:
        """Set a body's base velocity (angular unchanged when None)."""
        _check_vector("linear velocity", linear)
        uid = self.uid(name)
        if angular is None:
            angular = pb.getBaseVelocity(uid, physicsClientId=self.client)[1]
        pb.resetBaseVelocity(uid, list(linear), list(angular), physicsClientId=self.client)

    def set_joint_target(self, name: str, joint: str, position: float, max_force: float = 200.0) -> None:
        """Drive a joint of a URDF body towards ``position`` with a position controller."""
        i = self.index(name)
        joints = self.bodies[i].joints
        if joint not in joints:
            raise KeyError(f"body {name!r} has no movable joint {joint!r}; it has {', '.join(joints)}")
        if not math.isfinite(position):
            raise PhysicsError(f"joint target for {name}.{joint} is not finite: {position}")
        self._joint_targets[(i, joints[joint])] = (float(position), float(max_force))
        pb.setJointMotorControl2(self.bodies[i].uid, joints[joint], pb.POSITION_CONTROL, targetPosition=position,
                                 force=max_force, physicsClientId=self.client)

    def set_pose(self, name: str, position: list[float], orientation: list[float] | None = None) -> None:
        """Teleport a body (orientation xyzw; unchanged when None) and zero its velocity."""
        _check_vector("position", position)
        i = self.index(name)
        uid = self.bodies[i].uid
        if orientation is None:  # keep the placed frame's orientation
            orientation = self._placed_frame(i, *pb.getBasePositionAndOrientation(uid, physicsClientId=self.client))[1]
        com, com_orn = pb.multiplyTransforms(list(position), list(orientation), *self._com_in_frame[i])
        pb.resetBasePositionAndOrientation(uid, com, com_orn, physicsClientId=self.client)
        pb.resetBaseVelocity(uid, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)

    # --- articulated bodies -----------------------------------------------------------------
    def joint_names(self, name: str) -> list[str]:
        """Movable joints of a URDF body, in joint-index order."""
        joints = self.bodies[self.index(name)].joints
        return sorted(joints, key=joints.get)

    def _link(self, name: str, link: str) -> int:
        links = self.bodies[self.index(name)].links
        if link not in links:
            raise KeyError(f"body {name!r} has no link {link!r}; it has {', '.join(links)}")
        return links[link]

    def link_state(self, name: str, link: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World position, orientation (xyzw) and linear velocity of one link of a URDF body."""
        s = pb.getLinkState(self.uid(name), self._link(name, link), computeLinkVelocity=1,
                            computeForwardKinematics=1, physicsClientId=self.client)
        return np.asarray(s[4]), np.asarray(s[5]), np.asarray(s[6])

    def inverse_kinematics(self, name: str, link: str, position: list[float],
                           orientation: list[float] | None = None) -> dict[str, float]:
        """Joint positions that put ``link`` at ``position`` (and ``orientation``, xyzw), by name."""
        _check_vector("IK target", position)
        args = {} if orientation is None else {"targetOrientation": list(orientation)}
        solution = pb.calculateInverseKinematics(self.uid(name), self._link(name, link), list(position),
                                                 physicsClientId=self.client, **args)
        return dict(zip(self.joint_names(name), map(float, solution), strict=False))

    def reset_joints(self, name: str, positions: dict[str, float]) -> None:
        """Teleport joints to positions with zero velocity and hold them there."""
        i = self.index(name)
        for joint, position in positions.items():
            self.set_joint_target(name, joint, position)
            pb.resetJointState(self.bodies[i].uid, self.bodies[i].joints[joint], position, 0.0, physicsClientId=self.client)

    # --- state -----------------------------------------------------------------------------
    def _collect_contacts(self) -> None:
        for point in pb.getContactPoints(physicsClientId=self.client):
            a, b = int(self.uid_to_index[point[1]]), int(self.uid_to_index[point[2]])
            force = point[9]
            if a < 0 or b < 0 or a == b or force <= 0:
                continue
            key = (min(a, b), max(a, b))
            best = self._contacts.get(key)
            if best is None or force > best.normal_force:
                self._contacts[key] = Contact(key[0], key[1], np.asarray(point[6]), float(force))

    def state(self, clear_contacts: bool = True) -> PhysicsState:
        """Every body's pose and velocity now, plus the contacts since the last call."""
        n = len(self.bodies)
        pos, quat = np.zeros((n, 3)), np.zeros((n, 4))
        vel, ang, com = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3))
        joints: dict[str, np.ndarray] = {}
        joint_velocities: dict[str, np.ndarray] = {}
        for i, built in enumerate(self.bodies):
            offset = self._com_in_frame[i]
            if i in self.active:
                c, q_com = pb.getBasePositionAndOrientation(built.uid, physicsClientId=self.client)
                v, w = pb.getBaseVelocity(built.uid, physicsClientId=self.client)
                p, q = self._placed_frame(i, c, q_com)
                if offset is not IDENTITY:  # the placed frame's origin moves at v + ω × (p − c)
                    v = np.asarray(v) + np.cross(w, np.subtract(p, c))
            else:
                body = self.spec.bodies[i]
                p, q, v, w = body.position, orientation_xyzw(body), (0, 0, 0), (0, 0, 0)
                c = pb.multiplyTransforms(p, q, *offset)[0]
            pos[i], quat[i], vel[i], ang[i], com[i] = p, q, v, w, c
            if built.joints:
                states = pb.getJointStates(built.uid, list(built.joints.values()), physicsClientId=self.client)
                joints[self.spec.bodies[i].name] = np.array([s[0] for s in states])
                joint_velocities[self.spec.bodies[i].name] = np.array([s[1] for s in states])
        contacts = sorted(self._contacts.values(), key=lambda c: (c.body_a, c.body_b))
        if clear_contacts:
            self._contacts = {}
        present = np.array([i in self.active for i in range(n)], dtype=bool)
        return PhysicsState(self.time, [b.name for b in self.spec.bodies], pos, quat, vel, ang, present,
                            joints, contacts, com, joint_velocities)

    def _placed_frame(self, i: int, com: tuple, orn: tuple) -> tuple[tuple, tuple]:
        """Body ``i``'s placed frame (position, xyzw) from its base's centre-of-mass pose."""
        if self._frame_in_com[i] is IDENTITY:
            return com, orn
        return pb.multiplyTransforms(com, orn, *self._frame_in_com[i])

    def masses(self) -> np.ndarray:
        """Mass of each body in kg (0 for static; sum over links for URDFs)."""
        return np.array([b.mass for b in self.bodies])

    def check_finite(self) -> None:
        """Raise :class:`PhysicsError` if any body's state is NaN or moving impossibly fast."""
        # Runs after every physics step, so plain floats: numpy here cost as much as the step itself.
        for i in self._active_dynamic():
            uid = self.bodies[i].uid
            p, _ = pb.getBasePositionAndOrientation(uid, physicsClientId=self.client)
            v, w = pb.getBaseVelocity(uid, physicsClientId=self.client)
            speed = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
            if not (speed <= MAX_SPEED and all(map(math.isfinite, (*p, *w)))):  # NaN speed fails the first test
                name = self.spec.bodies[i].name
                raise PhysicsError(f"body {name!r} blew up at t={self.time:.3f}s "
                                   f"(position {np.round(p, 3).tolist()}, speed {speed:.3g} m/s)")

    # --- save / restore ---------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Save the full simulation state (bodies, contacts, events, joint targets) in memory.

        Bullet's ``restoreState`` does not bring back the solver's contact warm-start cache, so a
        continuation after a restore drifts from the original by ~1e-5 m within a few steps. The
        snapshot is therefore restored at once: the run that goes on from here and every later
        restore start from the same solver state and stay bit-identical. (A rollout that takes a
        snapshot can differ at that level from one that never does.)
        """
        snap = Snapshot(pb.saveState(physicsClientId=self.client), self._step, set(self.active),
                        self.queue.copy(), dict(self._joint_targets), dict(self._contacts),
                        [dict(d) for d in self._dynamics], self.gravity, self.token)
        self.restore(snap)
        return snap

    def restore(self, snap: Snapshot) -> None:
        """Return to a snapshot; continuing from it reproduces the original continuation exactly.

        Bullet's ``restoreState`` brings back poses and velocities only; masses, contact and damping
        values changed since (by :meth:`set_dynamics` or a ``set_dynamics`` event) and gravity are
        put back here.

        Raises:
            ValueError: the snapshot was removed, or was taken in another world (another env, or
                this env's world before a randomized reset rebuilt it).
        """
        snap.check(self.token)
        pb.restoreState(stateId=snap.state_id, physicsClientId=self.client)
        for i, saved in enumerate(snap.dynamics):
            if saved != self._dynamics[i]:
                pb.changeDynamics(self.bodies[i].uid, -1, physicsClientId=self.client, **saved)
                self._record_dynamics(i, dict(saved))
        if snap.gravity != self.gravity:
            self.set_gravity(list(snap.gravity))
        self._step = snap.step
        self.active = set(snap.active)
        self.queue = snap.queue.copy()
        self._contacts = dict(snap.contacts)
        for i in range(len(self.bodies)):
            pb.setCollisionFilterGroupMask(self.bodies[i].uid, -1, *self._collision_mask(i), physicsClientId=self.client)
        self._joint_targets = dict(snap.joint_targets)
        for (i, j), (target, force) in self._joint_targets.items():
            pb.setJointMotorControl2(self.bodies[i].uid, j, pb.POSITION_CONTROL, targetPosition=target,
                                     force=force, physicsClientId=self.client)


    def remove_snapshot(self, snap: Snapshot) -> None:
        """Free a snapshot's memory in PyBullet (every snapshot holds a full copy of the world)."""
        snap.check(self.token)
        pb.removeState(snap.state_id, physicsClientId=self.client)
        snap.removed = True

def _check_vector(what: str, values: list[float]) -> None:
    arr = np.asarray(values, dtype=float)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise PhysicsError(f"{what} must be 3 finite numbers, got {values!r}")
