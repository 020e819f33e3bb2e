"""Training arm controllers through the plant: configuration, run directories, resume, reports.

A run directory holds::

    config.json        the TrainConfig (enough to rebuild task, controller and optimizer)
    checkpoint.pkl     params, optimizer state and history (atomic, verified; see armctl.checkpoint)
    history.json       per-iteration loss, evaluation loss, function calls, wall time, lambda ...
    report.json        final loss and metrics on the evaluation batch, iLQR ratio, figures
    *.png              hand paths (with iLQR's dashed), torque / velocity profiles, loss curve

``train(config, run_dir)`` starts or (``resume=True``) continues a run; with the same seed a
resumed run reaches the same numbers as an uninterrupted one, because every iteration's
data key is ``fold_in(data_key, iteration)`` and the optimizer state is checkpointed whole.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from armctl import checkpoint, optim, plots
from armctl.controllers import ArmController
from armctl.optim.arm_problem import arm_problem
from armctl.rollout import simulate
from armctl.tasks import Task, make_task

OPTIMIZERS = ("ahf", "hf", "lbfgs", "ncg", "adam", "momentum", "nesterov", "gd")

#: Optimizer settings for the arm tasks, found by hand on center-out (8 and 64 targets).
ARM_OPTIMIZER_DEFAULTS: dict[str, dict] = {
    "ahf": {},
    "hf": {},
    "lbfgs": {"memory": 100},
    "ncg": {},
    "adam": {"learning_rate": 3e-3, "clip_norm": 1.0},
    "momentum": {"learning_rate": 1e-2, "momentum": 0.9, "clip_norm": 1.0},
    "nesterov": {"learning_rate": 1e-2, "momentum": 0.9, "clip_norm": 1.0},
    "gd": {"learning_rate": 1e-2, "clip_norm": 1.0},
}

#: Task settings: "quick" finishes in minutes on 2 CPU cores, "thesis" is the thesis's setup.
TASK_PRESETS: dict[str, dict[str, dict]] = {
    "center-out": {"quick": {"n_targets": 16}, "thesis": {"n_targets": 64}},
    "postural": {"quick": {}, "thesis": {}},
    "ddn": {"quick": {"batch_size": 100}, "thesis": {"batch_size": 400}},
    "random-reach": {"quick": {"batch_size": 64}, "thesis": {"batch_size": 64}},
}
CONTROLLER_PRESETS = {"quick": (100, 100), "thesis": (100, 100)}
#: Iterations per task and preset when no budget is given.
STEP_PRESETS = {
    "center-out": {"quick": 600, "thesis": 2000},
    "postural": {"quick": 100, "thesis": 1000},
    "ddn": {"quick": 100, "thesis": 1000},
    "random-reach": {"quick": 100, "thesis": 1000},
}


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a run. ``steps``/``max_function_calls``/``minutes`` bound it
    (whichever is reached first; ``None`` means unbounded in that measure)."""

    task: str = "center-out"
    optimizer: str = "ahf"
    seed: int = 0
    preset: str = "quick"
    arm: str = "monkey"
    steps: int | None = None
    max_function_calls: int | None = None
    minutes: float | None = None
    hidden: tuple[int, int] | None = None
    task_options: dict = dataclasses.field(default_factory=dict)
    optimizer_options: dict = dataclasses.field(default_factory=dict)
    checkpoint_every: int = 5
    dtype: str = "float64"
    devices: int = 1
    remat_block: int = 0
    batch_refresh: int = 1

    def __post_init__(self):
        self.task = self.task.lower().replace("_", "-")
        if self.task not in TASK_PRESETS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {sorted(TASK_PRESETS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {list(OPTIMIZERS)}")
        if self.preset not in CONTROLLER_PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; expected one of {sorted(CONTROLLER_PRESETS)}")
        if self.steps is None and self.max_function_calls is None and self.minutes is None:
            self.steps = STEP_PRESETS[self.task][self.preset]
        if self.hidden is None:
            self.hidden = CONTROLLER_PRESETS[self.preset]
        self.hidden = tuple(int(h) for h in self.hidden)
        for name in ("steps", "max_function_calls"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.devices, int) or self.devices < 1:
            raise ValueError(f"devices must be a positive integer, got {self.devices!r}")
        if not isinstance(self.remat_block, int) or self.remat_block < 0:
            raise ValueError(f"remat_block must be a nonnegative integer (0: off), got {self.remat_block!r}")
        if not isinstance(self.batch_refresh, int) or self.batch_refresh < 1:
            raise ValueError(
                f"batch_refresh must be a positive integer (steps per batch), got {self.batch_refresh!r}"
            )
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.minutes is not None and not (math.isfinite(self.minutes) and self.minutes > 0):
            raise ValueError(f"minutes must be a positive number, got {self.minutes!r}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class Setup:
    """The objects a config builds."""

    task: Task
    controller: ArmController
    problem: optim.Problem
    optimizer: optim.Optimizer


def precision(config: TrainConfig):
    """Context in which the run computes: 64-bit JAX for ``dtype='float64'``.

    Near iLQR's optimum the center-out loss is ~1e-5 and its improvements per iteration fall
    below float32 resolution, so matching iLQR to a fraction of a percent needs float64.
    """
    return jax.enable_x64(config.dtype == "float64")


def cast(params, config: TrainConfig):
    return jax.tree_util.tree_map(lambda a: jax.numpy.asarray(a, config.dtype), params)


def build_task(config: TrainConfig) -> Task:
    options = {**TASK_PRESETS[config.task][config.preset], **config.task_options}
    return make_task(config.task, arm=config.arm, **options)


def make_optimizer(name: str, **options) -> optim.Optimizer:
    """The named optimizer with the arm defaults, overridden by ``options``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    factory = getattr(optim, name)
    return factory(**{**ARM_OPTIMIZER_DEFAULTS[name], **options})


def build(config: TrainConfig) -> Setup:
    task = build_task(config)
    controller = ArmController(hidden=config.hidden)
    return Setup(
        task,
        controller,
        arm_problem(controller, task, config.remat_block),
        make_optimizer(config.optimizer, **config.optimizer_options),
    )


def keys(seed: int) -> dict[str, jax.Array]:
    """Independent keys for initialization, training data and the evaluation batch."""
    k_init, k_data, k_eval = jax.random.split(jax.random.PRNGKey(seed), 3)
    return {"init": k_init, "data": k_data, "eval": k_eval}


def evaluation_batch(task: Task, seed: int):
    return task.sample(keys(seed)["eval"])


_simulate = jax.jit(simulate, static_argnums=(0, 2))


def _rollout(setup: Setup, params, batch):
    return _simulate(setup.controller, params, setup.task, batch)


def reference_loss(task: Task) -> float | None:
    """iLQR's mean loss on the task when it defines one (center-out), else ``None``."""
    if task.name != "center-out":
        return None
    from armctl.baselines import reference_loss as ilqr_reference

    return float(ilqr_reference(task))


class _OutOfTime(Exception):
    """Raised by the training callback when the wall-clock budget is spent."""


class _Progress:
    """Periodic progress lines: iteration, loss, evaluation loss, ratio to iLQR, calls, time."""

    def __init__(self, total_steps, reference, log):
        self.total, self.reference, self.log = total_steps, reference, log
        self.t0 = time.perf_counter()

    def __call__(self, record: dict) -> None:
        step = record["step"]
        loss = record["eval_loss"] if record["eval_loss"] is not None else record["loss"]
        ratio = f" ratio-to-iLQR {loss / self.reference:8.4f}" if self.reference else ""
        total = f"/{self.total}" if self.total else ""
        lam = f" lambda {record['lambda']:.3g}" if record.get("lambda") is not None else ""
        self.log(
            f"iter {step + 1:4d}{total}  loss {record['loss']:.6g}  eval {loss:.6g}{ratio}  "
            f"calls {record['function_calls']:6d}{lam}  {time.perf_counter() - self.t0:7.1f}s"
        )


def train(config: TrainConfig, run_dir: str | Path, *, log: Callable = print) -> dict:
    """Start a run in a new directory; returns the report (also written to ``run_dir/report.json``)."""
    run_dir = Path(run_dir)
    if (run_dir / "checkpoint.pkl").exists():
        raise ValueError(f"{run_dir} already holds a run; resume it (--resume) or choose another directory")
    with precision(config):
        setup = build(config)
        params = cast(setup.controller.init_params(keys(config.seed)["init"]), config)
        return _train(config, setup, run_dir, params, None, None, log)


def resume(run_dir: str | Path, *, log: Callable = print, **budget) -> dict:
    """Continue the run in ``run_dir`` to a new budget (``steps``, ``max_function_calls``,
    ``minutes``; budgets given as ``None`` keep the run's own). Budgets are totals over the
    whole run, so resuming a 30-iteration run with ``steps=30`` after 20 iterations does the
    last 10, and reaches the same numbers as the uninterrupted run."""
    run_dir = Path(run_dir)
    saved = checkpoint.load(run_dir / "checkpoint.pkl")
    config = TrainConfig.from_json(saved["config"])
    new = {k: v for k, v in budget.items() if v is not None}
    if new:
        config = dataclasses.replace(
            config, **{"steps": None, "max_function_calls": None, "minutes": None, **new}
        )
    history = optim.History(saved["history"])
    log(f"resuming {run_dir} after iteration {len(history)}")
    with precision(config):
        return _train(config, build(config), run_dir, saved["params"], saved["opt_state"], history, log)


def _train(config, setup, run_dir, params, state, history, log) -> dict:
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pkl"
    k = keys(config.seed)
    checkpoint.atomic_write_json(run_dir / "config.json", config.to_json())

    eval_batch = evaluation_batch(setup.task, config.seed)
    reference = reference_loss(setup.task)
    if reference is not None:
        log(f"iLQR reference loss for {setup.task.name}: {reference:.6g}")
    progress = _Progress(config.steps, reference, log)
    t_start = time.perf_counter()

    history = optim.History() if history is None else history
    latest = {"params": params, "state": state}

    def save():
        checkpoint.save(
            ckpt_path,
            {
                "config": config.to_json(),
                "params": latest["params"],
                "opt_state": latest["state"],
                "history": dict(history),
            },
        )

    def callback(step, params, state, record):
        latest.update(params=params, state=state)
        progress(record)
        if (step + 1) % config.checkpoint_every == 0:
            save()
        if config.minutes is not None and time.perf_counter() - t_start > 60 * config.minutes:
            raise _OutOfTime

    try:
        params, state, history = optim.run(
            setup.problem,
            setup.optimizer,
            params,
            setup.task.sample,
            k["data"],
            steps=config.steps,
            max_function_calls=config.max_function_calls,
            eval_batch=eval_batch,
            callback=callback,
            state=state,
            history=history,
            mesh=optim.parallel.mesh_for(config.devices),
            batch_refresh=config.batch_refresh,
        )
        latest.update(params=params, state=state)
    except _OutOfTime:
        log(f"stopping: the {config.minutes}-minute budget is spent")
    if latest["state"] is not None:
        save()
    checkpoint.atomic_write_json(run_dir / "history.json", dict(history))
    params = latest["params"]
    return report(run_dir, setup, params, history, eval_batch, reference, log=log)


def report(
    run_dir: Path, setup: Setup, params, history, eval_batch, reference, *, log: Callable = print
) -> dict:
    """Evaluate on the evaluation batch, draw the figures, write ``report.json``."""
    task = setup.task
    r = _rollout(setup, params, eval_batch)
    metrics = {k: np.asarray(v) for k, v in task.metrics(r.states, r.commands, eval_batch.target).items()}
    loss = float(metrics["cost"].mean())
    figures = write_figures(run_dir, setup, r, eval_batch, history, reference)
    summary = {
        "task": task.name,
        "loss": loss,
        "ilqr_loss": reference,
        "ratio_to_ilqr": loss / reference if reference else None,
        "metrics": {f"mean_{k}": float(v.mean()) for k, v in metrics.items()},
        "iterations": len(history),
        "function_calls": history["function_calls"][-1] if len(history) else 0,
        "wall_s": history["wall_time"][-1] if len(history) else 0.0,
        "figures": [str(p.name) for p in figures],
    }
    checkpoint.atomic_write_json(run_dir / "report.json", summary)
    ratio = f", {summary['ratio_to_ilqr']:.4f} x iLQR" if reference else ""
    log(
        f"{task.name}: loss {loss:.6g}{ratio}; final hand error "
        f"{summary['metrics']['mean_final_error_mm']:.2f} mm; report and figures in {run_dir}"
    )
    return summary


def write_figures(run_dir: Path, setup: Setup, r, batch, history, reference) -> list[Path]:
    task, arm = setup.task, setup.task.arm
    states, commands = np.asarray(r.states), np.asarray(r.commands)
    ref_states = ilqr_states(task, batch)
    highlight = None
    if task.name == "ddn":
        highlight = [(int(o), task.horizon) for o in np.asarray(batch.onset)]
    shown = slice(0, 16) if task.name in ("ddn", "random-reach") else slice(None)
    figs = [
        plots.hand_paths(
            run_dir / "hand_paths.png",
            arm,
            states[shown],
            np.asarray(batch.target)[shown],
            reference_states=None if ref_states is None else ref_states[shown],
            title=f"{task.name}: hand paths" + (" (iLQR dashed)" if ref_states is not None else ""),
            highlight=None if highlight is None else highlight[shown],
        ),
        plots.profiles(
            run_dir / "profiles.png", arm, states, commands, episodes=(0,), title=f"{task.name}: episode 0"
        ),
    ]
    if len(history):
        calls, losses = history["function_calls"], evaluation_losses(history)
        figs.append(
            plots.loss_curves(
                run_dir / "loss.png",
                {setup.task.name: (calls, losses)},
                reference=reference,
                title=f"{task.name}: evaluation loss",
            )
        )
    if task.name == "postural":
        figs.append(
            plots.joint_trajectories(
                run_dir / "postural_joints.png",
                arm,
                states,
                np.asarray(batch.target),
                episodes=(36, 37, 38),
                title="postural: held against constant forces",
            )
        )
    return figs


def evaluation_losses(history) -> list[float]:
    """Per-iteration evaluation loss (training-batch loss where no evaluation batch was used)."""
    return [e if e is not None else l for e, l in zip(history["eval_loss"], history["loss"], strict=True)]


def load_run(run_dir: str | Path) -> tuple[TrainConfig, Setup, dict, optim.History]:
    """Rebuild a run's config, setup, parameters and history from its checkpoint."""
    saved = checkpoint.load(Path(run_dir) / "checkpoint.pkl")
    config = TrainConfig.from_json(saved["config"])
    return config, build(config), saved["params"], optim.History(saved["history"])


def evaluation_rollout(run_dir: str | Path):
    """``(setup, batch, rollout, history)`` of a saved run on its evaluation batch (in the run's
    precision)."""
    config, setup, params, history = load_run(run_dir)
    with precision(config):
        batch = evaluation_batch(setup.task, config.seed)
        return setup, batch, _rollout(setup, params, batch), history


def ilqr_states(task: Task, batch) -> np.ndarray | None:
    """iLQR's optimal state trajectories for a center-out batch (``None`` for other tasks)."""
    if task.name != "center-out":
        return None
    from armctl.baselines import solve_task

    return np.asarray(solve_task(task, batch).states)


def evaluate(run_dir: str | Path, *, log: Callable = print) -> dict:
    """Reload a run and recompute its report (``armctl eval RUN_DIR``)."""
    config, setup, params, history = load_run(run_dir)
    with precision(config):
        batch = evaluation_batch(setup.task, config.seed)
        return report(Path(run_dir), setup, params, history, batch, reference_loss(setup.task), log=log)
