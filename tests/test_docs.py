"""The documentation's Python code blocks run as written: each block of README.md and
docs/EXTENDING.md on its own (its imports included, in a fresh module and an empty working
directory). Blocks that train for
minutes (``.learn(``: Stable-Baselines3) are marked slow (``python -m pytest -m slow``)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/EXTENDING.md")
SLOW = (".learn(",)


def python_blocks(name: str) -> list[tuple[int, str]]:
    """``(line, code)`` of every fenced Python block of the file ``name``."""
    text = (ROOT / name).read_text()
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(1))
        for m in re.finditer(r"```python\n(.*?)```", text, re.S)
    ]


BLOCKS = [
    pytest.param(code, id=f"{name}:{line}", marks=[pytest.mark.slow] if any(s in code for s in SLOW) else [])
    for name in DOCS
    for line, code in python_blocks(name)
]


def test_the_documents_have_python_blocks():
    assert len(BLOCKS) >= 5


@pytest.fixture
def registries():
    """Whatever a block registers (docs/EXTENDING.md's task, controller, optimizer) is gone after it."""
    import armctl.envs.registration  # noqa: F401  (the built-in ids, before the snapshot)
    import gymnasium

    from armctl import registry
    from armctl.optim import registry as optimizers

    registry.task_names(), registry.controller_names()  # the built-ins, before the snapshot
    saved = [(d, dict(d)) for d in (registry._TASKS, registry._CONTROLLERS, optimizers._RECORDS)]
    ids = set(gymnasium.registry)
    yield
    for d, before in saved:
        d.clear()
        d.update(before)
    for env_id in set(gymnasium.registry) - ids:
        del gymnasium.registry[env_id]


@pytest.mark.parametrize("code", BLOCKS)
def test_a_python_block_runs_as_written(code, tmp_path, monkeypatch, registries):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARMCTL_CACHE_DIR", str(tmp_path / "cache"))
    # A real module, as a file of the user's would be (dataclasses look their module up).
    module = types.ModuleType("docs_block")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, "<block>", "exec"), module.__dict__)
