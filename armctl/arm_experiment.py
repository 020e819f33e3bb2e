"""Training arm controllers through the plant: the arm's config, what it builds, the run.

``train(ArmConfig(...))`` starts a run in ``config.out`` (default ``runs/TASK-OPTIMIZER-sSEED``)
or, with ``resume=True``, continues the one there; the run directory follows
:mod:`armctl.runs` (config.json, checkpoint.npz, history.json, report.json, figures).
Every step's data key is ``fold_in(data_key, step)`` and the optimizer state is checkpointed
whole, so a resumed run reaches the numbers of an uninterrupted one with the same seed.
Reports and figures: :mod:`armctl.report`; reloading a run: :mod:`armctl.loading`.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path

import jax

from armctl import optim, report, runs
from armctl.arm_problem import arm_problem
from armctl.checks import check_integer, check_number
from armctl.config import RunConfig, option
from armctl.optim import driver
from armctl.options import check_options
from armctl.presets import PRESETS, preset_batch_refresh, preset_budget, task_fields
from armctl.registry import controller_factory, controller_names, task_names, task_record
from armctl.tasks import Task, make_task

#: Task fields that have their own config field.
_OWN_FIELDS = {"arm": "--arm"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArmConfig(RunConfig):
    """An arm run: task, controller and optimizer (plus :class:`~armctl.config.RunConfig`'s core).

    Tasks, controllers and optimizers are looked up by name in the registries
    (:mod:`armctl.registry`, :mod:`armctl.optim.registry`), the plug-ins' included. Without any
    budget the run takes its preset's (:func:`armctl.presets.preset_budget`: the thesis's function
    calls for AHF and L-BFGS on postural and DDN under the thesis presets, else the task's preset
    steps), and without ``batch_refresh`` its preset's (:func:`armctl.presets.preset_batch_refresh`:
    25 for L-BFGS on DDN under the thesis presets, else 1).
    """

    EXPERIMENT = "arm"
    COMMAND = "armctl train"

    task: str = option("center-out", "the arm task", positional=True, choices=task_names)
    optimizer: str = option("ahf", "the optimizer (its arm defaults: armctl.optim.registry)")
    preset: str = option(
        "quick",
        "quick: minutes on 2 CPU cores; thesis: the thesis's batch sizes, and its budgets where it "
        "states them; thesis-scale: thesis with postural force and DDN disturbance scaled to the "
        "thesis's figures",
        choices=PRESETS,
    )
    arm: str = option("monkey", "limb parameters", choices=("monkey", "human"))
    controller: str = option(
        "thesis",
        "the controller: 'thesis' (the thesis's two recurrent tanh layers), 'gru', 'lstm', or one "
        "registered with armctl.register_controller",
        choices=controller_names,
    )
    hidden: tuple[int, ...] | None = option(
        None,
        "hidden layer sizes (default: the controller's; the thesis network has two, 100 100)",
        metavar="H",
    )
    controller_options: dict = option(
        dict,
        "override a controller setting, e.g. init=sparse (repeatable; values are JSON)",
        flag="--controller-option",
        metavar="KEY=VALUE",
    )
    task_options: dict = option(
        dict,
        "override a task field, e.g. n_targets=64 (repeatable; values are JSON)",
        flag="--task-option",
        metavar="KEY=VALUE",
    )
    batch_refresh: int | None = option(
        None,
        "keep each training batch for K steps (default 1: a fresh batch every step; under the thesis "
        "presets 25 for L-BFGS on DDN, the thesis's protocol)",
        metavar="K",
    )
    precision: str = option(
        "float64",
        "float64 resolves the last fraction of a percent near iLQR's optimum",
        choices=("float32", "float64"),
    )

    def __post_init__(self):
        object.__setattr__(self, "task", task_record(self.task).name)  # unknown: ValueError listing them
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; expected one of {list(PRESETS)}")
        if self.arm not in ("monkey", "human"):
            raise ValueError(f"unknown arm {self.arm!r}; expected 'monkey' or 'human'")
        if self.steps is None and self.function_calls is None and self.minutes is None:
            for name, value in preset_budget(self.task, self.preset, self.optimizer).items():
                object.__setattr__(self, name, value)
        if self.batch_refresh is None:
            object.__setattr__(
                self, "batch_refresh", preset_batch_refresh(self.task, self.preset, self.optimizer)
            )
        super().__post_init__()
        if self.hidden is not None:
            hidden = tuple(self.hidden)
            if not hidden or not all(
                isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden
            ):
                raise ValueError(f"hidden must be positive integers (layer sizes), got {self.hidden!r}")
            object.__setattr__(self, "hidden", hidden)
        check_integer("batch_refresh", self.batch_refresh, 1)  # steps per batch
        build_task(self)  # bad task, controller or optimizer options fail here, before any work
        build_controller(self)
        self.make_optimizer()

    def sharded_sizes(self) -> tuple[int, ...]:
        """The training and evaluation batches: the task's batch size."""
        return (build_task(self).batch_size,)

    def default_out(self) -> Path:
        controller = "" if self.controller == "thesis" else f"-{self.controller}"
        return Path("runs") / f"{self.task}{controller}-{self.optimizer}-s{self.seed}"

    def rebuild(self, extra: dict) -> Setup:
        """The run's task, controller, problem and optimizer (:func:`build`)."""
        return build(self)

    @classmethod
    def evaluate_run(cls, run_dir, *, log: Callable[[str], None] = print) -> dict:
        from armctl.loading import evaluate  # the report's figures import matplotlib: only when asked

        return evaluate(run_dir, log=log)


@dataclasses.dataclass(frozen=True)
class Setup:
    """The objects a config builds."""

    task: Task
    controller: object
    problem: optim.Problem
    optimizer: optim.Optimizer


def build_task(config: ArmConfig) -> Task:
    """The config's task: its preset's settings, overridden by ``task_options``."""
    for name, flag in _OWN_FIELDS.items():
        if name in config.task_options:
            raise ValueError(f"task option {name!r} is a setting of its own: use {flag}")
    cls = task_record(config.task).cls
    fields = {
        f.name: (f.default if f.default is not dataclasses.MISSING else None, f.type)
        for f in dataclasses.fields(cls)
        if f.name not in _OWN_FIELDS
    }
    check_options(f"{config.task} task", config.task_options, fields)
    # JSON lists become tuples: a task is hashable (a static argument of jit).
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in config.task_options.items()}
    return make_task(config.task, arm=config.arm, **{**task_fields(config.task, config.preset), **options})


def build_controller(config: ArmConfig):
    """The config's controller: the registered factory with ``hidden`` (if given) and
    ``controller_options``; a setting it does not take is a ``ValueError`` naming it."""
    factory = controller_factory(config.controller)
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in config.controller_options.items()}
    if config.hidden is not None:
        if "hidden" in options:
            raise ValueError(
                "give the layer sizes once: --hidden or --controller-option hidden=..., not both"
            )
        options["hidden"] = config.hidden
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        parameters = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    unknown = sorted(set(options) - set(parameters)) if parameters and not takes_any else []
    if unknown:
        raise ValueError(
            f"unknown controller option(s) {unknown} for {config.controller!r}; valid: "
            f"{sorted(n for n in parameters if not n.startswith('_'))}"
        )
    try:
        return factory(**options)
    except TypeError as err:
        raise ValueError(f"controller {config.controller!r}: {err}") from None


def build(config: ArmConfig) -> Setup:
    task = build_task(config)
    controller = build_controller(config)
    return Setup(task, controller, arm_problem(controller, task, config.remat_block), config.make_optimizer())


def keys(seed: int) -> dict[str, jax.Array]:
    """Independent keys for initialization, training data and the evaluation batch."""
    k_init, k_data, k_eval = jax.random.split(jax.random.PRNGKey(seed), 3)
    return {"init": k_init, "data": k_data, "eval": k_eval}


def evaluation_batch(task: Task, seed: int):
    return task.sample(keys(seed)["eval"])


def cast(tree, config: ArmConfig):
    """The floating-point leaves of ``tree`` (parameters, a batch) in the run's precision."""

    def leaf(a):
        a = jax.numpy.asarray(a)
        return a.astype(config.precision) if jax.numpy.issubdtype(a.dtype, jax.numpy.floating) else a

    return jax.tree_util.tree_map(leaf, tree)


def train(
    config: ArmConfig,
    *,
    resume: bool = False,
    force: bool = False,
    until_ratio: float | None = None,
    log: Callable = print,
) -> dict:
    """Start (or, ``resume``, continue) the run in ``config.run_dir()``; returns the report (also
    written to ``report.json``). ``force`` replaces a run already in that directory.

    ``until_ratio`` (e.g. 1.01) also stops the run (reason ``'ratio'``) once its evaluation loss is
    within that factor of iLQR's, on tasks whose yardstick is iLQR (center-out): what "time to
    1 % of iLQR" measures (``bench/time_to_ilqr.py``).
    """
    if until_ratio is not None:
        check_number("until_ratio", until_ratio, 1, low_closed=True)
        if not task_record(config.task).view.ilqr_reference:
            raise ValueError(f"until_ratio needs an iLQR reference; task {config.task!r} has none")
    with runs.opened(config, resume=resume, force=force) as saved, config.scope():
        setup = build(config)
        params = cast(setup.controller.init_params(keys(config.seed)["init"]), config)
        eval_batch = evaluation_batch(setup.task, config.seed)
        reference = report.reference_loss(setup.task)
        if reference is not None:
            log(f"iLQR reference loss for {setup.task.name}: {reference:.6g}")
        stop = ()
        if until_ratio is not None:

            def within(status: driver.Status) -> bool:
                return status.history["eval_loss"][-1] <= until_ratio * reference

            stop = (driver.when(within, "ratio"),)
        result = runs.checkpointed_minimize(
            config,
            setup.problem,
            setup.optimizer,
            params if saved is None else saved.params,
            setup.task.sample,
            keys(config.seed)["data"],
            saved=saved,
            describe=report.describe(reference),
            log=log,
            eval_batch=eval_batch,
            batch_refresh=config.batch_refresh,
            stop=stop,
        )
        return report.write(
            config.run_dir(), setup, result.params, result.history, eval_batch, reference, log=log
        )
