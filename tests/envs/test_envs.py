"""The Gymnasium environments as an agent (and its tooling) uses them."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import worldsim_envs
from gymnasium.utils.env_checker import check_env
from worldsim_envs import ENV_IDS, OBS_MODES
from worldsim_envs.shots import LaunchToBin

from worldsim import scene_from_dict

SHORT = {"PandaReach": "worldsim/PandaReach-v0", "Push": "worldsim/PandaPush-v0", "Billiards": "worldsim/BilliardsShot-v0"}


def make(env_id: str, **kwargs) -> gym.Env:
    return gym.make(env_id, **kwargs)


def rollout(env: gym.Env, seed: int, steps: int) -> tuple[list, list]:
    obs, _ = env.reset(seed=seed)
    observations, rewards = [obs], []
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            obs, _ = env.reset()
            observations.append(obs)
    return observations, rewards


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return np.array_equal(a, b)


def test_ids_registered_in_a_loop_and_reachable_with_module_prefix():
    assert len(ENV_IDS) == 20 and len(set(ENV_IDS)) == 20
    assert all(i in gym.registry for i in ENV_IDS)
    env = gym.make("worldsim_envs:worldsim/PandaPush-v0")
    assert isinstance(env.unwrapped, worldsim_envs.PandaPush)
    env.close()


@pytest.mark.parametrize("obs_mode", OBS_MODES)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_env_checker_passes(env_id, obs_mode):
    if obs_mode == "proprio" and "Panda" not in env_id:
        with pytest.raises(ValueError, match="no robot"):
            make(env_id, obs_mode=obs_mode)
        return
    env = make(env_id, obs_mode=obs_mode, render_mode="rgb_array", render_steps=1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity.*")  # state vectors are unbounded by design
        check_env(env.unwrapped)
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (64, 64, 3)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_env_checker_passes_wrapped(env_id):
    """As users call it: on what gym.make returns (TimeLimit, order enforcing, checker wrappers)."""
    env = make(env_id, obs_mode="proprio+rgb" if "Panda" in env_id else "state+depth", render_steps=1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity.*")
        check_env(env)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_stable_baselines3_checker_passes_for_state_observations(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = make(env_id, obs_mode="state")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sb3_check_env(env.unwrapped, warn=False)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_episode(env_id):
    runs = [rollout(make(env_id, obs_mode="state"), seed=7, steps=6) for _ in range(2)]
    assert len(runs[0][0]) == len(runs[1][0])
    assert all(same(a, b) for a, b in zip(runs[0][0], runs[1][0], strict=False))
    assert runs[0][1] == runs[1][1]


@pytest.mark.parametrize("env_id", [SHORT["Push"], SHORT["Billiards"]])
@pytest.mark.parametrize("obs_mode", ["rgb", "segmentation"])
def test_same_seed_same_pixels(env_id, obs_mode):
    first, second = (rollout(make(env_id, obs_mode=obs_mode), seed=3, steps=3)[0] for _ in range(2))
    assert all(same(a, b) for a, b in zip(first, second, strict=False))


@pytest.mark.parametrize("obs_mode", ["state", "rgb"])
def test_save_and_restore_reproduce_the_continuation(obs_mode):
    env = make(SHORT["Push"], obs_mode=obs_mode).unwrapped
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (8, 3))
    for a in actions[:3]:
        env.step(a)
    snap = env.save_state()
    first = [env.step(a)[:2] for a in actions[3:]]
    env.restore_state(snap)
    second = [env.step(a)[:2] for a in actions[3:]]
    for (o1, r1), (o2, r2) in zip(first, second, strict=False):
        assert same(o1, o2) and r1 == r2


def test_scripted_reach_policy_succeeds_so_the_ee_control_is_right():
    env = make(SHORT["PandaReach"])
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        for _ in range(20):
            action = np.clip((obs["desired_goal"] - obs["achieved_goal"]) / 0.05, -1, 1)
            obs, reward, terminated, truncated, info = env.step(action)
            if terminated:
                break
        assert info["is_success"] and reward == 0.0


def test_joint_control_and_gripper_move_the_arm():
    env = make("worldsim/PandaPickAndPlaceJoints-v0")
    obs, _ = env.reset(seed=0)
    start = obs["observation"].copy()
    for _ in range(5):
        obs, *_ = env.step(np.array([0.6, 0, 0, 0, 0, 0, 0, 1.0]))
    assert np.linalg.norm(obs["observation"][:3] - start[:3]) > 0.05  # gripper moved
    assert obs["observation"][6] > start[6] + 0.03  # fingers opened


def test_compute_reward_is_batched_and_matches_step_rewards():
    for env_id in ("worldsim/PandaStack-v0", "worldsim/PandaStackDense-v0"):
        env = make(env_id)
        obs, _ = env.reset(seed=0)
        achieved, desired, rewards = [], [], []
        for _ in range(4):
            obs, reward, *_ = env.step(env.action_space.sample())
            achieved.append(obs["achieved_goal"])
            desired.append(obs["desired_goal"])
            rewards.append(reward)
        batch = env.unwrapped.compute_reward(np.stack(achieved), np.stack(desired), [{}] * 4)
        assert batch.shape == (4,)
        np.testing.assert_allclose(batch, rewards, rtol=1e-6)
        assert np.all(env.unwrapped.compute_reward(np.stack(achieved), np.stack(achieved), None) == 0)


def test_sparse_reward_threshold():
    env = make(SHORT["PandaReach"]).unwrapped
    goal = np.zeros(3)
    assert env.compute_reward(np.array([0.049, 0, 0]), goal, None) == 0.0
    assert env.compute_reward(np.array([0.051, 0, 0]), goal, None) == -1.0


@pytest.mark.parametrize("bad, message", [
    (np.array([np.nan, 0, 0]), "NaN or inf"),
    (np.array([np.inf, 0, 0]), "NaN or inf"),
    (np.zeros(4), "shape"),
    (np.zeros((1, 3)), "shape"),
])
def test_bad_actions_get_clear_errors(bad, message):
    env = make(SHORT["Push"])
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(bad)


def test_out_of_bounds_actions_are_clipped():
    results = []
    for action in ([5.0, -7.0, 1.0], [1.0, -1.0, 1.0]):
        env = make(SHORT["Push"])
        env.reset(seed=0)
        results.append(env.step(np.array(action))[0])
    assert same(*results)


def test_a_physics_blow_up_ends_the_episode_with_an_info_flag():
    spec = scene_from_dict({
        "sim": {"gravity": [0, 0, -20000.0]},
        "bodies": [{"name": "floor", "type": "plane"},
                   {"name": "ball", "type": "sphere", "radius": 0.05, "mass": 0.2, "position": [0, 0, 5.0]},
                   {"name": "bin", "type": "box", "static": True, "size": [0.2, 0.2, 0.2], "position": [2, 0, 0.1]}],
        "cameras": [{"position": [1, -3, 1], "target": [1, 0, 0], "resolution": [32, 32]}],
    })
    env = LaunchToBin(scene=spec)
    obs, _ = env.reset(seed=0)
    obs2, reward, terminated, truncated, info = env.step(np.zeros(2))
    assert terminated and "blew up" in info["physics_error"] and not info["is_success"]
    assert np.all(np.isfinite(obs2)) and same(obs, obs2)  # the last good observation, not NaN
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.zeros(2))
    env.reset(seed=1)  # and the env is usable again


def _launch_scene(bin_x: float, damping: float = 0.04):
    return scene_from_dict({
        "bodies": [{"name": "floor", "type": "plane", "size": [8, 4], "position": [1.5, 0, 0]},
                   {"name": "pad", "type": "box", "static": True, "size": [0.2, 0.2, 0.1], "position": [0, 0, 0.05]},
                   {"name": "ball", "type": "sphere", "radius": 0.05, "mass": 0.2, "position": [0, 0, 0.15],
                    "linear_damping": damping},
                   {"name": "bin", "type": "mesh", "file": "assets/bin.obj", "static": True,
                    "collision": "exact", "position": [bin_x, 0, 0]}],
        "cameras": [{"position": [1.4, -3.2, 1.3], "target": [1.4, 0, 0.4], "resolution": [32, 32]}],
    }, base_dir=worldsim_envs.core.TASK_SCENES)


def test_launch_dense_reward_measures_where_the_ball_comes_down():
    # 5 m/s at 45 degrees from 0.15 m. Without damping (Bullet's default acts as drag), the ball's
    # centre is back at 0.05 m (touching the floor) after t = (v_z + sqrt(v_z^2 + 2 g 0.1)) / g,
    # having flown x = v_x t.
    v, g = 5.0 * np.sqrt(0.5), 9.81
    landing_x = v * (v + np.sqrt(v * v + 2 * g * 0.1)) / g
    env = LaunchToBin(scene=_launch_scene(bin_x=3.5, damping=0.0), reward_type="dense")  # the bin far beyond the landing
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.zeros(2))  # action 0 = 5 m/s at 45 degrees
    assert reward == pytest.approx(-(3.5 - landing_x), abs=0.03)
    assert not info["is_success"]


def test_launch_dense_reward_ranks_short_shots_that_all_end_against_the_bin():
    # Short, flat shots land on the floor and roll to rest against the bin's outer wall, all 0.45 m
    # from its centre: a reward on where the ball rests would score them the same (the trap an agent
    # fell into). Scored where the ball comes down, the longer one is better, and a shot that drops
    # into the bin is better than all of them.
    env = LaunchToBin(scene=_launch_scene(bin_x=1.6), reward_type="dense")

    def shot(speed: float) -> tuple[float, bool, float]:
        env.reset(seed=0)
        _, reward, _, _, info = env.step(np.array([speed, 0.0], np.float32))  # 45 degrees
        return reward, info["is_success"], float(env._position("ball")[0])

    short = [shot(s) for s in (-1.0, -0.9, -0.8, -0.7, -0.6)]
    assert all(abs(rest - (1.6 - 0.45)) < 0.02 and not success for _, success, rest in short)
    rewards = [r for r, _, _ in short]
    assert rewards == sorted(rewards) and rewards[-1] - rewards[0] > 0.4
    inside = [r for r, success, _ in (shot(s) for s in (-0.3, -0.2)) if success]
    assert inside and min(inside) > max(rewards)


def test_frame_callback_films_every_frame_of_a_shot():
    env = LaunchToBin(obs_mode="rgb", image_size=32, render_mode="rgb_array", horizon=0.5)
    obs, _ = env.reset(seed=0)
    seen: list[tuple[float, np.ndarray]] = []
    env.frame_callback = lambda e: seen.append((float(e._position("ball")[0]), e.render()))
    _, _, _, _, info = env.step(np.zeros(2, np.float32))
    assert len(seen) == round(info["sim_time"] * env.metadata["render_fps"])  # 0.5 s in the air at 24 fps
    xs = [x for x, _ in seen]
    assert xs == sorted(xs) and xs[-1] > 1.0  # the ball flies along +x
    # render() draws the world as it is during the shot, not the stale pre-shot observation
    assert not np.array_equal(seen[-1][1], obs) and not np.array_equal(seen[0][1], seen[-1][1])


def test_image_size_and_modes():
    env = make(SHORT["Billiards"], obs_mode="rgb", image_size=96, render_mode="rgb_array", render_backend="pybullet")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (96, 96, 3) and obs.dtype == np.uint8
    assert env.render().shape == (96, 96, 3)
    depth, _ = make(SHORT["Billiards"], obs_mode="depth").reset(seed=0)
    assert depth.dtype == np.float32 and 2.0 < depth.max() < 4.0  # camera ~2.7 m from the table
    seg, _ = make(SHORT["Billiards"], obs_mode="segmentation").reset(seed=0)
    names = [b.name for b in worldsim_envs.BilliardsShot().base_spec.bodies]
    assert {names.index("cue"), names.index("target"), names.index("table")} <= set(np.unique(seg))
    with pytest.raises(ValueError, match="obs_mode"):
        make(SHORT["Billiards"], obs_mode="rgbd")


def test_make_vec_batches_observations_and_renders_in_one_model_call(monkeypatch):
    from worldsim.render import Renderer

    calls = []
    original = Renderer.render_window

    def counting(self, clips, *args, **kwargs):
        calls.append(clips["albedo"].shape[0])
        return original(self, clips, *args, **kwargs)

    monkeypatch.setattr(Renderer, "render_window", counting)
    venv = gym.make_vec(SHORT["Push"], num_envs=8, obs_mode="rgb")
    assert isinstance(venv, worldsim_envs.WorldsimVectorEnv)
    obs, _ = venv.reset(seed=0)
    assert obs["observation"].shape == (8, 64, 64, 3) and obs["desired_goal"].shape == (8, 3)
    calls.clear()
    for _ in range(3):
        obs, reward, terminated, truncated, info = venv.step(venv.action_space.sample())
    assert calls == [8, 8, 8]  # one batched call of all 8 frames per step
    assert reward.shape == terminated.shape == (8,) and info["is_success"].shape == (8,)
    venv.close()


def test_vector_env_truncates_and_autoresets_next_step():
    venv = gym.make_vec(SHORT["Billiards"], num_envs=3)
    venv.reset(seed=0)
    _, _, terminated, _, _ = venv.step(np.zeros((3, 2)))
    assert terminated.all()
    obs, reward, terminated, truncated, _ = venv.step(np.zeros((3, 2)))  # the autoreset step
    assert not terminated.any() and not truncated.any() and np.all(reward == 0)
    venv = gym.make_vec(SHORT["PandaReach"], num_envs=2, max_episode_steps=3)
    venv.reset(seed=0)
    truncs = [venv.step(np.zeros((2, 3)))[3] for _ in range(3)]
    assert not truncs[0].any() and truncs[2].all()


def test_vector_env_matches_single_envs_in_state_mode():
    venv = gym.make_vec(SHORT["Push"], num_envs=2)
    obs, _ = venv.reset(seed=[5, 9])
    singles = [make(SHORT["Push"]) for _ in range(2)]
    first = [env.reset(seed=s)[0] for env, s in zip(singles, (5, 9), strict=False)]
    actions = np.random.default_rng(0).uniform(-1, 1, (4, 2, 3))
    for step in actions:
        obs, *_ = venv.step(step)
        first = [env.step(a)[0] for env, a in zip(singles, step, strict=False)]
    for i in range(2):
        np.testing.assert_array_equal(obs["observation"][i], first[i]["observation"])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_gymnasium_sync_and_async_vector_envs_work(mode):
    kwargs = {"context": "spawn"} if mode == "async" else {}  # fork after torch has run can deadlock
    venv = gym.make_vec(SHORT["Billiards"], num_envs=2, vectorization_mode=mode, vector_kwargs=kwargs)
    obs, _ = venv.reset(seed=0)
    obs, reward, terminated, _, _ = venv.step(np.zeros((2, 2)))
    assert obs.shape == (2, 6) and terminated.all()
    venv.close()
