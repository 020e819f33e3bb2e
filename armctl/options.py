"""Options dictionaries: ``--optimizer-option KEY=VALUE``, ``--task-option KEY=VALUE``,
``--controller-option KEY=VALUE``.

:func:`parse_options` reads ``KEY=VALUE`` pairs (values are JSON); :func:`check_options` checks a
dictionary against the signature of the function it configures (:func:`signature_parameters`)
before any work: an unknown key, or a value of the wrong kind (``lambda_init=abc``,
``adapt_lambda=maybe``), raises ``ValueError`` naming it and what is valid.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

_NUMBER = (int, float)


def _kind(default, annotation) -> str | None:
    """What a value must be, from a parameter's annotation and default: ``'bool'``,
    ``'number'``, ``'int'``, ``'str'``, ``'2 numbers'`` ... or ``None`` (anything)."""
    text = str(annotation)
    if isinstance(default, bool) or "bool" in text:
        return "bool"
    if isinstance(default, tuple):
        return f"{len(default)} numbers"
    if "float" in text:
        return "number"
    for kind, python in (("int", int), ("number", float), ("str", str)):
        if isinstance(default, python) or kind in text:
            return kind
    return None


def _fits(value, kind: str | None, nullable: bool) -> bool:
    if value is None:
        return nullable
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, _NUMBER) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind and kind.endswith("numbers"):
        n = int(kind.split()[0])
        return (
            isinstance(value, list | tuple)
            and len(value) == n
            and all(_fits(v, "number", False) for v in value)
        )
    return True


_DESCRIPTION = {
    "bool": "true or false",
    "int": "an integer",
    "number": "a number",
    "str": "a string",
}


def check_options(what: str, options: Mapping[str, Any], parameters: Mapping[str, tuple[Any, Any]]) -> None:
    """Raise ``ValueError`` for an option that ``parameters`` (name -> (default, annotation)) does
    not have, or whose value is not of its default's kind."""
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise ValueError(f"unknown {what} option(s) {unknown}; valid: {sorted(parameters)}")
    for name, value in options.items():
        default, annotation = parameters[name]
        kind = _kind(default, annotation)
        nullable = default is None or "None" in str(annotation)
        if not _fits(value, kind, nullable):
            expected = _DESCRIPTION.get(kind, f"a list of {kind}") + (" or null" if nullable else "")
            raise ValueError(f"{what} option {name}={value!r}: expected {expected}")


def signature_parameters(fn: Callable) -> dict[str, tuple[Any, Any]]:
    """``name -> (default, annotation)`` of a function's keyword parameters (the default of a
    required one is ``inspect.Parameter.empty``)."""
    return {
        p.name: (p.default, p.annotation)
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def parse_options(pairs: list[str], what: str) -> dict:
    """``['a=1', 'b=x']`` -> ``{'a': 1, 'b': 'x'}``: values are JSON, or plain strings."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what} option {pair!r} is not KEY=VALUE")
        if key.strip() in options:
            raise ValueError(f"{what} option {key.strip()!r} is given twice")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options
