"""An import hook: modules imported after ``init()`` are instrumented as soon as they have run.

The hook sits first on ``sys.meta_path`` but only answers for modules the selection may cover;
it asks the other finders for the real spec and wraps its loader so that, right after the
module's code ran, the sensor attaches to its functions. The module keeps its real loader
afterwards (the wrapper removes itself), so ``importlib.resources`` and reloads are unaffected.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any, Protocol

__all__ = ["ImportHook", "ModuleChooser"]


class ModuleChooser(Protocol):
    """Which module names a hook answers for (the sensor's :class:`~codewitness.sensor._select.Selection`)."""

    def may_contain(self, fullname: str) -> bool:
        """Whether module ``fullname`` may be one the hook wants."""


class ImportHook(importlib.abc.MetaPathFinder):
    """Calls ``on_loaded(module)`` after each selected module is executed.

    Args:
        selection: decides which module names are worth watching.
        on_loaded: called with the fresh module; must not raise (errors are its own to count).
        loader_for: optionally makes the loader to use instead (the wrapping backend rewrites
            source); ``None`` from it means the plain notifying loader.
    """

    def __init__(
        self,
        selection: ModuleChooser,
        on_loaded: Callable[[types.ModuleType], Any],
        loader_for: Callable[[Any, Callable[[types.ModuleType], Any]], importlib.abc.Loader | None] | None = None,
    ) -> None:
        self._selection = selection
        self._on_loaded = on_loaded
        self._loader_for = loader_for
        self._local = threading.local()

    def install(self) -> None:
        """Put the hook first on ``sys.meta_path``."""
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def remove(self) -> None:
        """Take the hook off ``sys.meta_path``."""
        while self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Find the module's real spec with the other finders and wrap its loader."""
        try:
            if not self._selection.may_contain(fullname):
                return None
            busy: set[str] = self._local.__dict__.setdefault("busy", set())
            if fullname in busy:
                return None
            busy.add(fullname)
            try:
                spec = self._find_elsewhere(fullname, path, target)
            finally:
                busy.discard(fullname)
            if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return None
            special = self._loader_for(spec.loader, self._on_loaded) if self._loader_for else None
            spec.loader = special or _NotifyingLoader(spec.loader, self._on_loaded)
            return spec
        except Exception:
            # Declining is always safe: the normal finders still run after us.
            return None

    def _find_elsewhere(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None
    ) -> importlib.machinery.ModuleSpec | None:
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec: importlib.machinery.ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                return spec
        return None


class _NotifyingLoader(importlib.abc.Loader):
    """Runs the real loader, then the callback; then gives the module its real loader back."""

    def __init__(self, inner: Any, on_loaded: Callable[[types.ModuleType], Any]) -> None:
        self._inner = inner
        self._on_loaded = on_loaded

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self._inner.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._inner
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._inner
        self._execute(module)
        self._on_loaded(module)

    def _execute(self, module: types.ModuleType) -> None:
        self._inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
