"""The trainers by name: :data:`OPTIMIZERS` and :func:`make`, for callers that take the optimizer
and its options as data (a CLI, a JSON config)."""

from __future__ import annotations

import inspect
from types import MappingProxyType

from armctl.optim.ahf import ahf
from armctl.optim.base import Optimizer
from armctl.optim.first_order import adam, gd, lbfgs, momentum, ncg, nesterov
from armctl.optim.hf import hf

#: Name -> factory of every optimizer a trainer can name (read-only).
OPTIMIZERS = MappingProxyType(
    {
        "ahf": ahf,
        "hf": hf,
        "lbfgs": lbfgs,
        "ncg": ncg,
        "adam": adam,
        "momentum": momentum,
        "nesterov": nesterov,
        "gd": gd,
    }
)


def make(name: str, **options) -> Optimizer:
    """``OPTIMIZERS[name](**options)``, with every mistake a ``ValueError`` that says what is valid.

    An unknown ``name`` lists the optimizers; an unknown option, or a missing required one (the
    first-order methods' ``learning_rate``), lists the factory's options; a bad value is named by
    the factory's own checks.
    """
    if not (isinstance(name, str) and name in OPTIMIZERS):
        raise ValueError(f"unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    parameters = inspect.signature(OPTIMIZERS[name]).parameters  # unknown ones: the factory refuses
    missing = [
        p for p, spec in parameters.items() if spec.default is inspect.Parameter.empty and p not in options
    ]
    if missing:
        raise ValueError(
            f"optimizer {name!r} needs the option{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )
    return OPTIMIZERS[name](**options)
