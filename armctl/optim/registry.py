"""The optimizers by name: one record each, its factory and its default options per kind of experiment.

:data:`OPTIMIZERS` maps a name to an :class:`OptimizerRecord`; :func:`make` builds one from a name
and options (for callers that take them as data: a CLI, a JSON config), :func:`defaults` gives the
options an experiment (``"arm"``, ``"pathological"``, ``"lm"``, or any other name) starts from,
and :func:`register_optimizer` adds an optimizer from outside armctl (an optax chain through
:func:`armctl.optim.first_order.from_optax`, say). A name is one factory with one set of defaults
per experiment: ``hf-tikhonov`` is HF without structural damping, registered as its own name.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from armctl.optim.ahf import ahf
from armctl.optim.base import Optimizer
from armctl.optim.first_order import adam, gd, lbfgs, momentum, ncg, nesterov
from armctl.optim.hf import hf


@dataclasses.dataclass(frozen=True)
class OptimizerRecord:
    """``factory(**options) -> Optimizer`` and the options each kind of experiment starts from
    (``defaults["arm"]`` ...; ``defaults["*"]``: every experiment without its own)."""

    factory: Callable[..., Optimizer]
    defaults: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def second_order(self) -> bool:
        """Whether it takes a curvature batch (``curvature_fraction``): HF and AHF."""
        return "curvature_fraction" in inspect.signature(self.factory).parameters


#: The arm's HF structural damping (thesis: not given; picked on center-out, README).
_ARM_MU = 0.03
#: The pathological problems' HF (thesis appendix 4.4): lambda 0.1 with structural damping mu =
#: 1/30, 0.3 without; at most 300 CG steps (the experiment sizes lambda and the curvature batch).
_PATHOLOGICAL_SECOND_ORDER = {"max_cg": 300}
_CLIPPED = {"clip_norm": 1.0}

_RECORDS: dict[str, OptimizerRecord] = {
    "ahf": OptimizerRecord(
        ahf,
        {
            "arm": {},
            "pathological": {"lambda_init": 0.1, "structural_mu": 1 / 30, **_PATHOLOGICAL_SECOND_ORDER},
            "lm": {"lambda_init": 10.0, "max_cg": 150, "curvature_fraction": 0.1},
        },
    ),
    "hf": OptimizerRecord(
        hf,
        {
            "arm": {"structural_mu": _ARM_MU},
            "pathological": {"lambda_init": 0.1, "structural_mu": 1 / 30, **_PATHOLOGICAL_SECOND_ORDER},
            "lm": {"lambda_init": 10.0, "structural_mu": 0.1, "max_cg": 150, "curvature_fraction": 0.1},
        },
    ),
    "hf-tikhonov": OptimizerRecord(
        hf,
        {
            "*": {"structural_mu": 0.0},
            "pathological": {"lambda_init": 0.3, "structural_mu": 0.0, **_PATHOLOGICAL_SECOND_ORDER},
        },
    ),
    "lbfgs": OptimizerRecord(lbfgs, {"arm": {"memory": 100}}),
    "ncg": OptimizerRecord(ncg),
    "adam": OptimizerRecord(
        adam,
        {
            "arm": {"learning_rate": 3e-3, **_CLIPPED},
            "pathological": {"learning_rate": 1e-3, **_CLIPPED},
            "lm": {"learning_rate": 2e-3, **_CLIPPED},
            "rl": {"learning_rate": 3e-4, "clip_norm": 0.5},  # PPO (armctl.ppo)
        },
    ),
    "momentum": OptimizerRecord(
        momentum,
        {
            "arm": {"learning_rate": 1e-2, "momentum": 0.9, **_CLIPPED},
            "pathological": {"learning_rate": 1e-4, "momentum": 0.9, **_CLIPPED},
        },
    ),
    "nesterov": OptimizerRecord(nesterov, {"arm": {"learning_rate": 1e-2, "momentum": 0.9, **_CLIPPED}}),
    "gd": OptimizerRecord(gd, {"arm": {"learning_rate": 1e-2, **_CLIPPED}}),
}
#: Name -> :class:`OptimizerRecord` of every registered optimizer (read-only).
OPTIMIZERS = MappingProxyType(_RECORDS)


def register_optimizer(
    name: str,
    factory: Callable[..., Optimizer],
    *,
    defaults: Mapping[str, Mapping] | None = None,
    replace=False,
) -> OptimizerRecord:
    """Register ``factory(**options) -> Optimizer`` as ``name``, with default options per kind of
    experiment (``{"arm": {...}, "*": {...}}``); ``replace`` to redefine a name."""
    if not (isinstance(name, str) and name and name.replace("-", "").replace("_", "").isalnum()):
        raise ValueError(f"an optimizer name must be letters, digits, '-' and '_', got {name!r}")
    if not callable(factory):
        raise ValueError(f"an optimizer factory must be callable, got {factory!r}")
    if name in _RECORDS and not replace:
        raise ValueError(f"an optimizer named {name!r} is registered already; pass replace=True")
    record = OptimizerRecord(factory, {k: dict(v) for k, v in (defaults or {}).items()})
    _RECORDS[name] = record
    from armctl import checkpoint  # its state classes may be checkpointed (its code runs anyway)

    checkpoint.trust_package(getattr(factory, "__module__", None) or "armctl")
    return record


def record(name: str) -> OptimizerRecord:
    """The record of ``name``; ``ValueError`` listing the optimizers (plug-ins loaded first)."""
    if not (isinstance(name, str) and name in _RECORDS):
        from armctl.registry import load_plugins

        load_plugins()
    if not (isinstance(name, str) and name in _RECORDS):
        raise ValueError(f"unknown optimizer {name!r}; expected one of {list(_RECORDS)}")
    return _RECORDS[name]


def defaults(name: str, experiment: str) -> dict:
    """The options ``experiment`` starts ``name`` from: its own defaults, else the ``"*"`` ones."""
    entry = record(name)
    return dict(entry.defaults.get(experiment, entry.defaults.get("*", {})))


def make(name: str, **options) -> Optimizer:
    """``OPTIMIZERS[name].factory(**options)``, with every mistake a ``ValueError`` that says what
    is valid.

    An unknown ``name`` lists the optimizers; an unknown option, or a missing required one (the
    first-order methods' ``learning_rate``), lists the factory's options; a bad value is named by
    the factory's own checks.
    """
    factory = record(name).factory
    parameters = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(parameters))
    if unknown and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        raise ValueError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for optimizer "
            f"{name!r}; valid options: {', '.join(parameters)}"
        )
    missing = [
        p for p, spec in parameters.items() if spec.default is inspect.Parameter.empty and p not in options
    ]
    if missing:
        raise ValueError(
            f"optimizer {name!r} needs the option{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )
    return factory(**options)
