"""Registers the Gymnasium env ids without making armctl import gymnasium.

If gymnasium is already imported, :mod:`armctl.envs.registration` runs now; otherwise a one-shot
import hook runs it right after gymnasium finishes importing, then removes itself. So
``import armctl; import gymnasium; gymnasium.make("armctl/DDN-v0")`` works, and
``gymnasium.make("armctl:armctl/DDN-v0")`` (which imports armctl) works too.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys


def _register() -> None:
    importlib.import_module("armctl.envs.registration")


class _AfterGymnasiumImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Meta-path finder that wraps gymnasium's own loader to register the envs after it ran."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)  # find the real spec below without recursing into ourselves
        spec = importlib.util.find_spec("gymnasium")
        if spec is None or spec.loader is None:
            return spec
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _register()


def install() -> None:
    """Register now if gymnasium is imported, otherwise once it is."""
    if "gymnasium" in sys.modules:
        _register()
    elif not any(isinstance(f, _AfterGymnasiumImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterGymnasiumImport())


install()
