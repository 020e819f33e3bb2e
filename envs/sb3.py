"""Stable-Baselines3 face of the native vector env: :class:`SB3VecEnv`.

SB3's algorithms take their own ``VecEnv`` type, whose conventions differ from Gymnasium's
vector API: ``step`` returns ``(obs, rewards, dones, infos)`` with one info dict per env, an
env whose episode ended is reset inside the same step (its last real observation goes to
``info["terminal_observation"]``), and a truncation is flagged by
``info["TimeLimit.truncated"]``. :class:`SB3VecEnv` translates, using only the public
Gymnasium ``VectorEnv`` API (``reset``, with ``reset_mask`` for a partial reset, ``step``, the
single spaces, ``num_envs``, ``metadata``), so the fast :class:`armctl.envs.vector.ArmVectorEnv`
(one jitted step for all arms) can feed SB3 directly::

    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor
    from armctl.envs.sb3 import SB3VecEnv

    venv = VecMonitor(SB3VecEnv(gym.make_vec("armctl/CenterOut-v0", num_envs=8)))
    PPO("MlpPolicy", venv, seed=0).learn(100_000)

Needs the ``rl`` extra (``pip install 'armctl[rl]'``); nothing else in armctl imports this
module, so armctl itself imports without Stable-Baselines3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

try:
    from stable_baselines3.common.vec_env import VecEnv
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "armctl.envs.sb3 needs Stable-Baselines3; install it with pip install 'armctl[rl]'"
    ) from err

#: Autoreset modes whose step at an episode's end returns that episode's last observation
#: (the modes in which resetting right after that step loses nothing).
SUPPORTED_AUTORESET_MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED)


def split_info(info: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium's vector info (a dict of per-env arrays, ``_key`` masks, nested dicts) as SB3's
    list of one dict per env. A key masked out for an env (``_key[i]`` False) is left out of
    that env's dict."""
    infos: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = info.get(f"_{key}")
        parts = split_info(value, num_envs) if isinstance(value, dict) else value
        for i in range(num_envs):
            if mask is None or mask[i]:
                infos[i][key] = parts[i]
    return infos


class SB3VecEnv(VecEnv):
    """A Gymnasium ``VectorEnv`` (such as :class:`armctl.envs.vector.ArmVectorEnv`, from
    ``gymnasium.make_vec("armctl/...")``) as a Stable-Baselines3 ``VecEnv``.

    - ``step_wait`` returns ``(obs, rewards, dones, infos)``: ``dones = terminated | truncated``;
      ``infos`` holds one dict per env with the vector env's info entries for that env and
      ``"TimeLimit.truncated"`` (truncated and not terminated).
    - Envs whose episode ended are reset within the same ``step_wait``: their info gets the
      last real observation as ``"terminal_observation"``, the returned observations start
      their new episodes, and ``reset_infos`` holds the new episodes' reset info. When all
      envs ended together (the horizon of an armctl task) that is one ``reset()`` of the
      vector env; when only some did (an arm that diverged), it is Gymnasium's partial reset,
      ``reset(options={"reset_mask": dones})``, and the other envs go on.
    - ``seed(s)`` (what SB3's ``seed=`` argument calls) makes the next ``reset`` call
      ``vector_env.reset(seed=s)``: the vector env draws all its arms' episodes from that one
      seed, so the same seed gives the same episodes. ``set_options`` passes one options dict,
      which must be the same for every env.
    - ``get_attr`` / ``set_attr`` / ``env_method`` act on the vector env itself (there are no
      per-env objects); ``get_attr`` repeats its value once per requested index.

    Raises ``ValueError`` for a vector env in ``SAME_STEP`` autoreset mode (it hides the last
    observation in ``final_obs``; use ``NEXT_STEP``).
    """

    def __init__(self, vector_env: gym.vector.VectorEnv):
        if not isinstance(vector_env, gym.vector.VectorEnv):
            raise TypeError(
                f"SB3VecEnv wraps a gymnasium.vector.VectorEnv (e.g. gymnasium.make_vec(...)), "
                f"got {type(vector_env).__name__}"
            )
        mode = vector_env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode not in SUPPORTED_AUTORESET_MODES:
            raise ValueError(
                f"SB3VecEnv needs a vector env with autoreset mode NEXT_STEP or DISABLED, got {mode}"
            )
        self.vector_env = vector_env
        super().__init__(
            vector_env.num_envs, vector_env.single_observation_space, vector_env.single_action_space
        )
        self._actions: np.ndarray | None = None

    # ----- the stepping API -------------------------------------------------------------
    def reset(self) -> np.ndarray:
        seed = self._seeds[0]
        options = self._options[0]
        if any(o != options for o in self._options):
            raise ValueError("SB3VecEnv resets all envs together: set_options needs one options dict for all")
        obs, info = self.vector_env.reset(seed=seed, options=options or None)
        self.reset_infos = split_info(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return np.array(obs)  # a writable copy: SB3 writes into its buffers and tensors

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        actions, self._actions = self._actions, None
        obs, rewards, terminated, truncated, info = self.vector_env.step(actions)
        obs, rewards = np.array(obs), np.array(rewards, np.float32)  # writable copies (SB3 adds to rewards)
        dones = np.logical_or(terminated, truncated)
        infos = split_info(info, self.num_envs)
        for i, env_info in enumerate(infos):
            env_info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        if dones.any():
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = obs[i]
            obs = self.reset() if dones.all() else self._restart(dones)
        return obs, rewards, dones, infos

    def _restart(self, ended: np.ndarray) -> np.ndarray:
        """Gymnasium's partial reset of the ``ended`` envs: all envs' observations, the restarted
        ones' first and the others' latest."""
        obs, info = self.vector_env.reset(options={"reset_mask": ended})
        for i, env_info in enumerate(split_info(info, self.num_envs)):
            if ended[i]:
                self.reset_infos[i] = env_info
        return np.array(obs)

    def close(self) -> None:
        self.vector_env.close()

    # ----- attribute access (on the one vector env) ---------------------------------------
    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        value = getattr(self.vector_env, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.vector_env, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        result = getattr(self.vector_env, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices=None) -> Sequence[bool]:
        return [False for _ in self._get_indices(indices)]
