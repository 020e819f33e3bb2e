"""A function of Python floats written out once as straight-line Python (:func:`compile_scalar`).

The plant and the world step are written once on vector components (:mod:`armctl.plant`); on
plain Python floats, for one arm, most of a step's time goes to the calls, attribute look-ups and
namespace dispatch between its float operations, not to the arithmetic. Tracing the step once on
stand-in numbers (:class:`Traced`) records those operations, in order and with the same operands,
as the lines of one Python function: the single Gymnasium env's step
(:func:`armctl.envs.core.compile_scalar_step`) then returns identical numbers nearly twice as fast,
and the equations still exist only once.
"""

from __future__ import annotations

import math
import numbers

from armctl.plant import ScalarMath


class Traced:
    """A Python number while :func:`compile_scalar` traces a function: the expression (an argument's
    item or a local) that holds it in the compiled function. Arithmetic, comparisons and ``abs``
    on it write a line; Python control flow decided by it cannot be written down and raises
    ``TypeError`` (as under JAX's ``jit``, such choices go through ``xp.where``)."""

    __slots__ = ("trace", "name")

    def __init__(self, trace: ScalarTrace, name: str):
        self.trace = trace
        self.name = name

    @property
    def scalar_namespace(self) -> TraceMath:
        """The namespace :func:`armctl.plant.namespace_of` gives for traced numbers."""
        return self.trace.xp

    def __bool__(self):
        raise TypeError(f"a traced number ({self.name}) decides Python control flow; use xp.where")

    def __neg__(self):
        return self.trace.emit("-{}", self)

    def __abs__(self):
        return self.trace.emit("abs({})", self)


def _operator(symbol: str, reflected: bool = False):
    """``a <symbol> b`` as a method of a traced ``a`` (``reflected``: of a traced ``b``)."""
    template = f"{{}} {symbol} {{}}"
    if reflected:
        return lambda b, a: b.trace.emit(template, a, b)
    return lambda a, b: a.trace.emit(template, a, b)


_BINARY = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**"}
for _name, _symbol in {**_BINARY, "and": "&", "or": "|"}.items():
    setattr(Traced, f"__{_name}__", _operator(_symbol))
    setattr(Traced, f"__r{_name}__", _operator(_symbol, reflected=True))
# Python answers ``2 < x`` with ``x > 2``, so comparisons need no reflected forms.
for _name, _symbol in {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}.items():
    setattr(Traced, f"__{_name}__", _operator(_symbol))


class TracedTable(Traced):
    """A per-step table (a list of rows) in a traced function: ``table[t]`` is a row's components."""

    __slots__ = ("row_length",)
    __iter__ = None  # a table is read a row at a time (iterating by __getitem__ would never end)

    def __init__(self, trace: ScalarTrace, name: str, row_length: int):
        super().__init__(trace, name)
        self.row_length = row_length

    def __getitem__(self, t):
        row = self.trace.emit("{}[{}]", self, t)
        return tuple(Traced(self.trace, f"{row.name}[{i}]") for i in range(self.row_length))


class TraceMath(ScalarMath):
    """:class:`ScalarMath` on :class:`Traced` numbers: what it would compute, written down. Packing
    and unpacking tuples (``components``, ``vector``, ...) happens while tracing."""

    def __init__(self, trace: ScalarTrace):
        self.trace = trace

    def where(self, condition, if_true, if_false):
        if not isinstance(condition, Traced):
            return ScalarMath.where(condition, if_true, if_false)
        return self.trace.emit("{} if {} else {}", if_true, condition, if_false)

    def where_lazy(self, condition, if_true, if_false):
        if not isinstance(condition, Traced):
            return ScalarMath.where_lazy(condition, if_true, if_false)
        return self.trace.branch(condition, if_true, if_false)


def _recorded(function):
    return lambda self, *args: self.trace.call(function, *args)


# ScalarMath's functions of numbers run in the compiled function, as ScalarMath's own.
for _name in ("cos", "sin", "sqrt", "arccos", "arctan2", "isfinite", "logical_not", "clip", "zeros_like"):
    setattr(TraceMath, _name, _recorded(getattr(ScalarMath, _name)))


class ScalarTrace:
    """The function :func:`compile_scalar` writes while tracing: its lines and the objects they name."""

    def __init__(self):
        self.lines: list[str] = []
        self.indent = "    "
        self.locals = 0
        self.objects: dict[str, object] = {}  # the compiled function's globals
        # id -> (name, object) of bound objects and of the arguments' tuples (kept alive, so
        # that no other object takes their id while tracing)
        self.names: dict[int, tuple[str, object]] = {}
        self.xp = TraceMath(self)

    def argument(self, example, name: str):
        """A stand-in for an argument shaped like ``example``: numbers become traced numbers,
        tuples and NamedTuples the same of stand-ins, lists per-step tables of rows."""
        if isinstance(example, tuple):
            items = [self.argument(item, f"{name}[{i}]") for i, item in enumerate(example)]
            value = type(example)(*items) if hasattr(example, "_fields") else tuple(items)
            self.names[id(value)] = (name, value)  # handed back as it came in, not rebuilt
            return value
        if isinstance(example, list):
            return TracedTable(self, name, len(example[0]))
        if isinstance(example, int | float):
            return Traced(self, name)
        raise TypeError(f"compile_scalar traces numbers, tuples and lists of rows, got {example!r}")

    def expression(self, value) -> str:
        """Python source for ``value``: a traced number, a tuple of them, or a constant."""
        if isinstance(value, Traced):
            return value.name
        if id(value) in self.names:
            return self.names[id(value)][0]
        if isinstance(value, tuple):
            items = "".join(f"{self.expression(item)}, " for item in value)
            return f"{self.expression(type(value))}({items})" if hasattr(value, "_fields") else f"({items})"
        if type(value) in (int, bool) or (type(value) is float and math.isfinite(value)):
            return f"({value!r})"  # repr gives the float back exactly
        if callable(value) or isinstance(value, numbers.Number):
            return self.bind(value)
        # A list or an array could hold traced numbers, which mean nothing once traced.
        raise TypeError(f"compile_scalar writes numbers, tuples and functions, got {value!r}")

    def bind(self, value) -> str:
        """A global name for the object ``value`` (a function, a class, a non-finite float)."""
        name = getattr(value, "__name__", "")
        name = f"{name if name.isidentifier() else 'k'}_{len(self.objects)}"
        self.objects[name] = value
        self.names[id(value)] = (name, value)
        return name

    def emit(self, template: str, *operands) -> Traced:
        """A line ``local = template`` with the operands' expressions filled in."""
        line = template.format(*map(self.expression, operands))
        local = Traced(self, f"v{self.locals}")
        self.locals += 1
        self.lines.append(f"{self.indent}{local.name} = {line}")
        return local

    def call(self, function, *args):
        """``function(*args)``, now if no argument is traced, else in the compiled function."""
        if not any(isinstance(arg, Traced) for arg in args):
            return function(*args)
        return self.emit("{}(" + ", ".join("{}" for _ in args) + ")", function, *args)

    def branch(self, condition: Traced, if_true, if_false) -> Traced:
        """``if_true()`` if ``condition`` else ``if_false()``, each computed only in its branch."""
        local = Traced(self, f"v{self.locals}")
        self.locals += 1
        for head, function in ((f"if {condition.name}:", if_true), ("else:", if_false)):
            self.lines.append(self.indent + head)
            self.indent += "    "
            self.lines.append(f"{self.indent}{local.name} = {self.expression(function())}")
            self.indent = self.indent[:-4]
        return local


def compile_scalar(function, *examples, name: str = "compiled"):
    """``function``, a function of Python numbers, written out once as straight-line Python.

    ``function`` runs on stand-ins (:class:`Traced`) for arguments shaped like ``examples``
    (numbers, tuples and NamedTuples of them, per-step tables as lists of rows; their values do
    not matter). What it computes from its constants alone is computed now; every operation on
    the arguments becomes a line, in the order it ran, with the same operands. So the compiled
    function does the same float operations and returns identical numbers, in the same
    structure, without the calls, attribute look-ups and namespace dispatch around them.
    Raises ``TypeError`` if ``function`` decides Python control flow by its arguments' numbers.
    """
    trace = ScalarTrace()
    result = function(*(trace.argument(example, f"a{i}") for i, example in enumerate(examples)))
    returned = trace.expression(result)
    arguments = ", ".join(f"a{i}" for i in range(len(examples)))
    source = "\n".join([f"def {name}({arguments}):", *trace.lines, f"    return {returned}", ""])
    scope = dict(trace.objects)
    exec(compile(source, f"<compiled {name}>", "exec"), scope)
    return scope[name]
