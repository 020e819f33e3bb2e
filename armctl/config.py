"""The configuration core every experiment embeds.

:class:`RunConfig` holds what every run has: seed, optimizer name and options, budgets (totals
over the whole run, resumed or not, in steps, function calls and minutes), precision, devices,
rematerialization, checkpoint interval and output directory, and the experiment interface every
kind of run implements (its optimizer, :meth:`RunConfig.rebuild`, :meth:`RunConfig.evaluate_run`).
The arm, pathological and language-model configs subclass it. Each field is declared once, with
its default, help text and choices in the field's metadata (:func:`option`), from which the
command line is derived (:mod:`armctl.commands.arguments`). Options dictionaries are checked by
:mod:`armctl.options`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import jax

from armctl.checks import check_integer, check_number
from armctl.optim import driver, parallel, registry
from armctl.options import check_options, signature_parameters

#: Help of ``checkpoint_every``, shared by the subclasses that change its default.
CHECKPOINT_EVERY_HELP = (
    "write the checkpoint every this many steps and at the end (in a long run, at most every "
    "hundredth of its steps so far)"
)


def option(default, help: str, **cli) -> Any:
    """A config field with its command-line metadata.

    ``default``: the value, or a type (``dict``) whose empty instance is the default.
    ``cli`` keywords: ``choices`` (a tuple, or a function returning one when the parser is built:
    the names in a registry, plug-ins included), ``metavar``, ``flag`` (instead of ``--field-name``),
    ``positional`` (an optional positional argument), ``cli=False`` (no argument), ``listable``
    (accepts a comma-separated list, for sweeps).
    """
    metadata = {"help": help, **cli}
    if isinstance(default, type):
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunConfig:
    """What every run has. Subclasses set the class attributes and add their own fields.

    Budgets are totals over the whole run: a run resumed with ``steps=30`` after 20 steps does
    10 more, and reaches the numbers of an uninterrupted 30-step run. Whichever budget is reached
    first stops the run; ``None`` leaves that measure unbounded.
    """

    #: The experiment's name, written to ``config.json`` (``arm``, ``pathological``, ``lm``); the
    #: optimizers' defaults for it are beside them in :mod:`armctl.optim.registry`.
    EXPERIMENT: ClassVar[str] = ""
    #: The command that trains this experiment (for "resume with ..." messages).
    COMMAND: ClassVar[str] = "armctl"
    #: Fields a resumed run may change: its budgets and how the work is spread.
    RESUMABLE: ClassVar[tuple[str, ...]] = (
        "steps",
        "function_calls",
        "minutes",
        "devices",
        "remat_block",
        "checkpoint_every",
        "out",
    )
    BUDGETS: ClassVar[tuple[str, ...]] = ("steps", "function_calls", "minutes")
    #: Every experiment's config class by its ``EXPERIMENT`` name (filled as subclasses are defined).
    KINDS: ClassVar[dict[str, type[RunConfig]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.EXPERIMENT:
            RunConfig.KINDS[cls.EXPERIMENT] = cls

    seed: int = option(0, "seeds the initialization, the training data and the evaluation data")
    optimizer: str = option("hf", "the optimizer")
    optimizer_options: dict = option(
        dict,
        "override an optimizer setting, e.g. lambda_init=1.0 (repeatable; values are JSON)",
        flag="--optimizer-option",
        metavar="KEY=VALUE",
    )
    steps: int | None = option(None, "stop after this many optimizer steps in all")
    function_calls: int | None = option(
        None, "stop after this many function calls in all (objective evaluations + gradients + G v products)"
    )
    minutes: float | None = option(None, "stop after this many minutes of training in all")
    precision: str = option("float32", "floating-point precision of the run", choices=("float32", "float64"))
    devices: int | None = option(
        None,
        "shard every batch over this many devices, all processes together (data-parallel; default: "
        "as many as the run's batches divide evenly, of the devices JAX sees: under the armctl "
        "command one per core it may run on). The number is written to config.json",
    )
    remat_block: int = option(
        0, "rematerialize the scan over time in blocks of this many steps (~sqrt(T)); 0: off"
    )
    checkpoint_every: int = option(5, CHECKPOINT_EVERY_HELP)
    out: str | None = option(None, "run directory (default: runs/NAME, see the command's help)")

    def __post_init__(self):
        check_integer("seed", self.seed, 0)
        registry.record(self.optimizer)  # an unknown name: ValueError listing the optimizers
        if not isinstance(self.optimizer_options, dict) or not all(
            isinstance(k, str) for k in self.optimizer_options
        ):
            raise ValueError(f"optimizer_options must be a dict of names, got {self.optimizer_options!r}")
        check_integer("steps", self.steps, 1, optional=True)
        check_integer("function_calls", self.function_calls, 1, optional=True)
        if self.minutes is not None:
            check_number("minutes", self.minutes, 0)
        if self.precision not in ("float32", "float64"):
            raise ValueError(f"precision must be 'float32' or 'float64', got {self.precision!r}")
        if self.devices is None:
            object.__setattr__(self, "devices", parallel.default_devices(*self.sharded_sizes()))
        check_integer("devices", self.devices, 1)
        check_integer("remat_block", self.remat_block, 0)
        check_integer("checkpoint_every", self.checkpoint_every, 1)
        if self.out is not None and not isinstance(self.out, str):
            object.__setattr__(self, "out", str(self.out))

    # ----- derived -------------------------------------------------------------------------------
    def sharded_sizes(self) -> tuple[int, ...]:
        """The leading sizes of the batches the run splits over its devices (each must divide
        evenly); ``devices`` defaults to the most devices that divide them all. Experiments whose
        batches are padded to any device count keep the default: none."""
        return ()

    def scope(self):
        """The context the run computes in: 64-bit JAX for ``precision='float64'``."""
        return jax.enable_x64(self.precision == "float64")

    def optimizer_settings(self) -> tuple[str, dict]:
        """The optimizer's name and options: its defaults for this experiment (beside it in
        :mod:`armctl.optim.registry`), overridden by ``optimizer_options``. Experiments that size
        options from their own settings (a batch, a length) extend this."""
        return self.optimizer, {
            **registry.defaults(self.optimizer, self.EXPERIMENT),
            **self.optimizer_options,
        }

    def make_optimizer(self):
        """The run's optimizer (:meth:`optimizer_settings`); an option the factory does not take,
        or of the wrong kind, is a ``ValueError`` naming it."""
        name, options = self.optimizer_settings()
        check_options(name, self.optimizer_options, signature_parameters(registry.record(name).factory))
        return registry.make(name, **options)

    def stop_conditions(self) -> list[driver.Condition]:
        """The budgets as the driver's stop conditions."""
        conditions = []
        if self.steps is not None:
            conditions.append(driver.max_steps(self.steps))
        if self.function_calls is not None:
            conditions.append(driver.max_calls(self.function_calls))
        if self.minutes is not None:
            conditions.append(driver.max_seconds(60.0 * self.minutes))
        return conditions

    def budget_fraction(self, status: driver.Status) -> float:
        """How much of the nearest budget is spent (0..1; 0 without budgets)."""
        spent = [0.0]
        if self.steps is not None:
            spent.append(status.steps / self.steps)
        if self.function_calls is not None:
            spent.append(status.function_calls / self.function_calls)
        if self.minutes is not None:
            spent.append(status.wall_time / (60.0 * self.minutes))
        return min(1.0, max(spent))

    def run_dir(self) -> Path:
        """``out``, or the experiment's default directory."""
        return Path(self.out) if self.out is not None else self.default_out()

    def default_out(self) -> Path:
        raise NotImplementedError

    # ----- the experiment interface: what every kind of run implements --------------------------
    def rebuild(self, extra: dict):
        """What this config builds around its parameters (the arm's task, controller and problem;
        a network), from the config and a checkpoint's ``extra``: :func:`armctl.runs.load_run`'s
        ``model``."""
        raise NotImplementedError

    @classmethod
    def evaluate_run(cls, run_dir, *, log: Callable[[str], None] = print) -> dict:
        """Reload the run in ``run_dir``, recompute its report (and figures) and return it
        (``armctl eval RUN_DIR``)."""
        raise NotImplementedError

    # ----- JSON ----------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"experiment": self.EXPERIMENT, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, data: dict, source: str = "config") -> RunConfig:
        """The config saved by :meth:`to_json`; ``source`` names the file in errors."""
        data = dict(data)
        kind = data.pop("experiment", None)
        if kind is None:
            raise ValueError(f"{source} names no experiment: was it written by an older armctl?")
        if kind != cls.EXPERIMENT:
            raise ValueError(
                f"{source} holds a {kind!r} run, not a{'n' if cls.EXPERIMENT[0] in 'aeiou' else ''} "
                f"{cls.EXPERIMENT!r} run"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{source}: unknown config keys {unknown}; expected a subset of {sorted(names)}")
        return cls(**data)

    # ----- resume --------------------------------------------------------------------------------
    def resumed(self, given: Mapping[str, Any]) -> RunConfig:
        """This (saved) config with the values ``given`` for a resumed run: budgets given replace
        all of the run's budgets; anything else that differs is refused later by
        :meth:`check_resume`."""
        given = dict(given)
        budgets = {name: given.pop(name) for name in self.BUDGETS if name in given}
        if budgets:
            given = {**dict.fromkeys(self.BUDGETS), **budgets, **given}
        return dataclasses.replace(self, **given)

    def settings_differ(self, other: RunConfig) -> list[tuple[str, Any, Any]]:
        """``(field, this value, the other's)`` for every setting (not a budget, device count or
        other :data:`RESUMABLE` field) in which the two configs of one kind differ."""
        return [
            (f.name, getattr(self, f.name), getattr(other, f.name))
            for f in dataclasses.fields(self)
            if f.name not in self.RESUMABLE and getattr(self, f.name) != getattr(other, f.name)
        ]

    def check_resume(self, saved: RunConfig, run_dir) -> None:
        """Raise ``ValueError`` unless this config continues ``saved``: only budgets, devices,
        rematerialization, checkpoint interval and output directory may change."""
        if type(saved) is not type(self):
            raise ValueError(f"{run_dir} holds a {saved.EXPERIMENT!r} run, not a {self.EXPERIMENT!r} run")
        differ = [
            f"{name}={mine!r} (the run has {theirs!r})" for name, mine, theirs in self.settings_differ(saved)
        ]
        if differ:
            raise ValueError(
                f"{run_dir} holds a run with other settings: {', '.join(differ)}; a resumed run keeps "
                f"its settings (only {', '.join(self.RESUMABLE)} may change)"
            )


def field_default(cls: type[RunConfig], name: str):
    """The default of field ``name`` of ``cls``."""
    field = cls.__dataclass_fields__[name]
    return field.default_factory() if field.default is dataclasses.MISSING else field.default
