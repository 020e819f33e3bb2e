"""The command line derived from a run config's fields (:func:`armctl.config.option` metadata).

:func:`add_arguments` adds one argparse argument per field, defaulting to ``argparse.SUPPRESS`` so
that :func:`given_arguments` reads back only what the user typed: a default lives in the dataclass
alone, and a resumed run can tell an explicit ``--seed 5`` from the default.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

from armctl.config import RunConfig
from armctl.optim import registry
from armctl.options import parse_options


def _choices(field: dataclasses.Field) -> tuple | None:
    """A field's choices (those a registry gives are read now, plug-ins included)."""
    choices = field.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


def _flag(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def _scalar_type(hint) -> type:
    """``int`` for ``int | None`` and so on."""
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return hint
    return next(a for a in typing.get_args(hint) if a is not type(None))


def _default_text(field: dataclasses.Field) -> str:
    if field.default is dataclasses.MISSING or field.default is None:
        return ""
    value = field.default
    if isinstance(value, tuple):
        value = " ".join(map(str, value))
    return f" (default: {value})"


def _cli_fields(cls: type[RunConfig], skip: tuple[str, ...] = ()) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are command-line arguments."""
    return [
        f
        for f in dataclasses.fields(cls)
        if "help" in f.metadata and f.metadata.get("cli") is not False and f.name not in skip
    ]


def add_arguments(
    parser: argparse.ArgumentParser,
    cls: type[RunConfig],
    *,
    skip: tuple[str, ...] = (),
    choices: Mapping[str, tuple] | None = None,
    defaults: Mapping[str, Any] | None = None,
    listable: bool = False,
) -> None:
    """One argument per field of ``cls`` that has help metadata (except ``skip``).

    Every argument defaults to ``argparse.SUPPRESS``: the namespace holds only what was typed,
    and :func:`given_arguments` returns it, so each default lives in the dataclass alone.
    ``choices`` / ``defaults`` narrow a field for one command (the defaults shown in help and
    used by :func:`given_arguments`); ``listable``: the fields marked ``listable`` take
    comma-separated lists (a sweep).
    """
    hints = typing.get_type_hints(cls)
    for field in _cli_fields(cls, skip):
        meta = field.metadata
        hint = _scalar_type(hints[field.name])
        kwargs: dict[str, Any] = {"default": argparse.SUPPRESS}
        field_choices = (choices or {}).get(field.name) or _choices(field)
        if field.name == "optimizer":
            field_choices = field_choices or tuple(registry.OPTIMIZERS)
        help_text = meta["help"]
        if defaults and field.name in defaults:
            help_text += f" (default: {defaults[field.name]})"
        else:
            help_text += _default_text(field)
        if listable and meta.get("listable"):
            kwargs["type"] = str
            help_text += "; a comma-separated list for a sweep"
            if field_choices:
                help_text += f" from {', '.join(map(str, field_choices))}"
        elif typing.get_origin(hint) is tuple:
            parts = typing.get_args(hint)
            kwargs.update(type=parts[0], nargs="+" if parts[-1] is Ellipsis else len(parts))
        elif hint is dict:
            kwargs.update(action="append", metavar=meta.get("metavar", "KEY=VALUE"))
        elif hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs.update(type=hint, choices=field_choices)
        if "metavar" in meta and hint is not dict:
            kwargs["metavar"] = meta["metavar"]
        kwargs["help"] = help_text
        if meta.get("positional"):
            # argparse checks a positional's default against its choices: None marks "not given".
            kwargs.update(nargs="?", default=None)
            parser.add_argument(field.name, **kwargs)
        else:
            parser.add_argument(_flag(field), dest=field.name, **kwargs)


def split_values(text: str, kind: type, name: str, allowed=None) -> list:
    """``'a,b'`` -> ``[kind(a), kind(b)]`` for the option ``--name``: each of ``allowed`` (if given),
    none twice; ``ValueError`` naming the option and the bad value otherwise."""
    items = [x.strip() for x in text.split(",") if x.strip()]
    try:
        values = [kind(x) for x in items]
    except ValueError:
        raise ValueError(f"--{name}: expected comma-separated {kind.__name__} values, got {text!r}") from None
    if not values:
        raise ValueError(f"--{name}: expected comma-separated {kind.__name__} values, got {text!r}")
    bad = [v for v in values if allowed is not None and v not in allowed]
    if bad:
        raise ValueError(f"--{name}: unknown value(s) {bad}; expected names from {list(allowed)}")
    twice = sorted({str(v) for v in values if values.count(v) > 1})
    if twice:
        raise ValueError(f"--{name}: {', '.join(twice)} given twice in {text!r}")
    return values


def given_arguments(
    args: argparse.Namespace,
    cls: type[RunConfig],
    *,
    defaults: Mapping[str, Any] | None = None,
    listable: bool = False,
) -> dict[str, Any]:
    """The config fields the user typed (plus the command's ``defaults`` for fields not typed),
    converted: ``KEY=VALUE`` lists to dicts, pairs to tuples; with ``listable``, the listable
    fields as lists."""
    hints = typing.get_type_hints(cls)
    given = dict(defaults or {})
    for field in _cli_fields(cls):
        if getattr(args, field.name, None) in (None, argparse.SUPPRESS):
            continue
        value = getattr(args, field.name)
        hint = _scalar_type(hints[field.name])
        if listable and field.metadata.get("listable"):
            allowed = _choices(field) or (tuple(registry.OPTIMIZERS) if field.name == "optimizer" else None)
            value = split_values(value, hint, field.name, allowed)
        elif hint is dict:
            value = parse_options(value, field.name.removesuffix("_options"))
        elif typing.get_origin(hint) is tuple:
            value = tuple(value)
        given[field.name] = value
    return given
