"""Combined observations, cameras, privileged state, visual randomization, and the env defects fixed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
import worldsim_envs  # noqa: F401  (registers the ids)
from gymnasium.vector import AutoresetMode

PUSH, REACH, LAUNCH, BILLIARDS = ("worldsim/PandaPush-v0", "worldsim/PandaReach-v0", "worldsim/LaunchToBin-v0",
                                  "worldsim/BilliardsShot-v0")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


# --- observations ------------------------------------------------------------------------------
def test_combined_modes_give_a_flat_dict_with_proprioception():
    env = gym.make(PUSH, obs_mode="proprio+rgb+depth", render_steps=1)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"proprio", "rgb", "depth", "achieved_goal", "desired_goal"}
    assert obs["proprio"].shape == (22,) and obs["rgb"].shape == (64, 64, 3) and obs["depth"].shape == (64, 64, 1)
    assert env.observation_space.contains(obs)
    ee = env.unwrapped.world.link_state("panda", "panda_grasptarget")[0]
    np.testing.assert_allclose(obs["proprio"][15:18], ee, atol=1e-6)  # the gripper position is where the physics has it


def test_several_cameras_and_a_hand_camera_that_moves_with_the_hand():
    env = gym.make(REACH, obs_mode="depth", cameras=["main", "hand"])
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"main_depth", "hand_depth", "achieved_goal", "desired_goal"}
    hand = env.unwrapped._camera("hand").position
    for _ in range(5):
        obs2, *_ = env.step(np.array([1.0, 0.0, -1.0]))
    moved = np.subtract(env.unwrapped._camera("hand").position, hand)
    ee_moved = obs2["achieved_goal"] - obs["achieved_goal"]
    np.testing.assert_allclose(moved, ee_moved, atol=0.02)  # the camera rides on the hand
    assert not np.array_equal(obs["hand_depth"], obs2["hand_depth"])


def test_privileged_false_keeps_object_state_out_of_the_observation():
    with pytest.raises(ValueError, match="proprio"):
        gym.make(PUSH, obs_mode="state", privileged=False)
    env = gym.make(PUSH, obs_mode="proprio+depth", privileged=False)
    obs, info = env.reset(seed=0)
    assert "achieved_goal" not in obs and "achieved_goal" in info
    _, reward, *_, info = env.step(env.action_space.sample())
    assert reward == env.unwrapped.compute_reward(info["achieved_goal"], obs["desired_goal"], info)
    reach, _ = gym.make(REACH, obs_mode="proprio", privileged=False).reset(seed=0)
    assert "achieved_goal" in reach  # the gripper's own position is proprioception, not object state


@pytest.mark.parametrize("bad", ["rgb+", "rgb+rgb", "colour", ""])
def test_bad_obs_modes_name_the_problem(bad):
    with pytest.raises(ValueError, match="obs_mode"):
        gym.make(PUSH, obs_mode=bad)


def test_unknown_camera_and_hand_camera_without_robot_are_refused_at_make():
    with pytest.raises(ValueError, match="not in the scene"):
        gym.make(PUSH, obs_mode="depth", cameras=["nope"])
    with pytest.raises(ValueError, match="robot"):
        gym.make(BILLIARDS, obs_mode="depth", cameras=["hand"])


# --- visual randomization ----------------------------------------------------------------------
def test_visual_randomization_is_seeded_visible_to_both_renderers_and_leaves_physics_alone():
    def first(seed, randomize, mode):
        env = gym.make(PUSH, obs_mode=mode, visual_randomization=randomize, render_steps=1)
        obs, _ = env.reset(seed=seed)
        return obs

    a, b = first(3, True, "rgb_reference+rgb"), first(3, True, "rgb_reference+rgb")
    c = first(4, True, "rgb_reference+rgb")
    plain = first(3, False, "rgb_reference+rgb")
    assert np.array_equal(a["rgb"], b["rgb"]) and np.array_equal(a["rgb_reference"], b["rgb_reference"])
    for key in ("rgb", "rgb_reference"):
        assert np.abs(a[key].astype(int) - c[key].astype(int)).mean() > 10
        assert np.abs(a[key].astype(int) - plain[key].astype(int)).mean() > 10
    np.testing.assert_array_equal(first(3, True, "proprio")["observation"], first(3, False, "proprio")["observation"])


# --- save / restore / remove -------------------------------------------------------------------
def test_save_remove_keeps_memory_flat():
    env = gym.make(PUSH).unwrapped
    env.reset(seed=0)
    for _ in range(500):
        env.remove_state(env.save_state())
    before = _rss_mb()
    for _ in range(10_000):
        env.remove_state(env.save_state())
    assert _rss_mb() - before < 20  # each unremoved snapshot held ~0.24 MB: 10,000 would be ~2.4 GB


def test_snapshots_from_elsewhere_or_removed_give_clear_errors():
    env, other = gym.make(PUSH).unwrapped, gym.make(PUSH).unwrapped
    env.reset(seed=0)
    other.reset(seed=0)
    snap = env.save_state()
    with pytest.raises(ValueError, match="another world"):
        other.restore_state(snap)
    env.remove_state(snap)
    with pytest.raises(ValueError, match="removed"):
        env.restore_state(snap)
    shots = gym.make(BILLIARDS).unwrapped  # a randomized scene: reset rebuilds the world
    shots.reset(seed=0)
    old = shots.save_state()
    shots.reset(seed=1)
    with pytest.raises(ValueError, match="another world"):
        shots.restore_state(old)


# --- the smaller defects -----------------------------------------------------------------------
@pytest.mark.parametrize("env_id", [LAUNCH, BILLIARDS])
def test_one_shot_tasks_terminate_without_truncating(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    *_, terminated, truncated, info = env.step(env.action_space.sample())
    assert terminated and not truncated and set(info) >= {"is_success", "goal_distance"}


def test_specs_serialize_and_round_trip():
    env = gym.make(PUSH, obs_mode="rgb")
    spec = gym.envs.registration.EnvSpec.from_json(env.spec.to_json())
    assert spec.id == PUSH and spec.kwargs["obs_mode"] == "rgb"
    assert gym.make(spec).unwrapped.obs_mode == "rgb"
    json.loads(gym.make_vec(PUSH, num_envs=2).spec.to_json())


def test_closed_env_says_so():
    env = gym.make(PUSH)
    env.reset(seed=0)
    env.close()
    with pytest.raises(gym.error.ClosedEnvironmentError):
        env.unwrapped.step(env.action_space.sample())


def test_numpy_integers_are_accepted_and_floats_refused():
    env = gym.make(PUSH, obs_mode="depth", image_size=np.int64(32))
    assert env.reset(seed=0)[0]["observation"].shape == (32, 32, 1)
    with pytest.raises(ValueError, match="image_size"):
        gym.make(PUSH, image_size=32.0)


def test_a_renderer_without_feedback_draws_env_frames_from_the_maps_alone():
    """The envs' batched call passes each env's previous frame only to a renderer that feeds back."""
    from worldsim_envs.observations import render_learned

    from worldsim import Renderer
    from worldsim.conditioning.arrays import from_frames
    from worldsim.recording import rollout
    from worldsim.templates import random_scene

    spec = random_scene(3, 32, 2)
    inputs = from_frames(spec, rollout(spec, seed=0, frames=1, resolution=(32, 32)).frames, pbr=False)
    renderer = Renderer("raster", steps=1)
    bright = np.full((32, 32, 3), 255, np.uint8)
    fresh = render_learned(renderer, [inputs], [0], [None])[0]
    assert not np.array_equal(render_learned(renderer, [inputs], [0], [bright])[0], fresh)
    renderer.feedback = False
    assert np.array_equal(render_learned(renderer, [inputs], [0], [bright])[0], fresh)


def test_render_twice_on_one_state_gives_one_frame():
    env = gym.make(PUSH, obs_mode="state", render_mode="rgb_array", render_steps=1)
    env.reset(seed=0)
    first = env.render()
    assert np.array_equal(first, env.render())
    env.step(env.action_space.sample())
    assert not np.array_equal(first, env.render())


def test_device_and_checkpoint_problems_are_reported_at_make():
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            gym.make(PUSH, obs_mode="rgb", device="cuda")
    with pytest.raises(Exception, match="no_such_checkpoint"):
        gym.make(PUSH, obs_mode="rgb", checkpoint="no_such_checkpoint")


def test_human_render_mode_without_pygame_is_refused_at_make():
    if __import__("importlib").util.find_spec("pygame") is not None:
        pytest.skip("pygame is installed: human mode works")
    with pytest.raises(ValueError, match="pygame"):
        worldsim_envs.PandaPush(render_mode="human")


# --- vector envs -------------------------------------------------------------------------------
def test_same_step_autoreset_returns_the_new_episode_and_keeps_the_final_one():
    envs = gym.make_vec(LAUNCH, num_envs=3, autoreset_mode=AutoresetMode.SAME_STEP)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = envs.reset(seed=0)
    for _ in range(3):  # every step is a whole episode: no step is spent on a reset
        nxt, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert terminated.all() and not truncated.any() and info["_final_obs"].all()
        assert all(set(f) >= {"is_success"} for f in info["final_info"])
        assert not np.array_equal(np.stack(info["final_obs"]), nxt)  # the ball flew; the new episode starts at rest


def test_a_bad_action_in_one_sub_env_steps_none_of_them():
    envs = gym.make_vec(PUSH, num_envs=3)
    envs.reset(seed=0)
    before = [e.world.state().positions.copy() for e in envs.envs]
    actions = np.zeros((3, 3))
    actions[2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        envs.step(actions)
    assert all(np.array_equal(b, e.world.state().positions) for b, e in zip(before, envs.envs, strict=True))
    assert all(e._steps == 0 for e in envs.envs)


def test_async_vector_env_works_after_the_parent_rendered():
    """Forked workers used to hang on their first model call once the parent had run torch."""
    script = textwrap.dedent(f"""
        import gymnasium as gym, worldsim_envs
        env = gym.make("{REACH}", obs_mode="rgb", render_steps=1); env.reset(seed=0); env.close()
        envs = gym.make_vec("{REACH}", num_envs=2, vectorization_mode="async", obs_mode="rgb", render_steps=1)
        obs, _ = envs.reset(seed=0)
        envs.step(envs.action_space.sample())
        envs.close()
        print("ok", obs["observation"].shape)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert "ok (2, 64, 64, 3)" in result.stdout, result.stderr[-2000:]


@pytest.mark.skipif(shutil.which("g++") is None and "CXX" not in os.environ, reason="torch.compile needs a C++ compiler")
def test_compile_renderer_gives_its_own_compiled_renderer_and_the_spec_round_trips():
    """``compile_renderer=True`` shares a compiled renderer between the envs that ask for one (the
    compile itself happens at the first frame; tests/test_render.py checks its frames)."""
    import torch

    env = gym.make(REACH, obs_mode="rgb", compile_renderer=True)
    twin = gym.make(REACH, obs_mode="rgb", compile_renderer=True)
    plain = gym.make(REACH, obs_mode="rgb")
    assert isinstance(env.unwrapped.renderer.model, torch._dynamo.eval_frame.OptimizedModule)
    assert env.unwrapped.renderer is twin.unwrapped.renderer is not plain.unwrapped.renderer
    assert gym.spec(REACH).to_json() and json.loads(env.spec.to_json())["kwargs"]["compile_renderer"] is True
    for e in (env, twin, plain):
        e.close()
