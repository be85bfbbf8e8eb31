"""A post-import hook: call back when one of a few named modules has been imported.

The flow integrations patch libraries the application imports, never importing them
themselves. :class:`PostImportHook` sits first on ``sys.meta_path`` and answers only for the
module names it waits for: it lets the other finders find the module, wraps the loader so
that right after the module's code ran the callback gets the module, and gives the module its
real loader back (see :mod:`codewitness.sensor._imports`, whose loader it shares).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from codewitness.sensor._imports import _NotifyingLoader

__all__ = ["PostImportHook"]

log = logging.getLogger("codewitness.sensor")


class PostImportHook(importlib.abc.MetaPathFinder):
    """Calls ``on_loaded(module)`` after each module named in ``waiting`` is imported.

    Args:
        waiting: the module names waited for (the values are the caller's: who waits).
        on_loaded: called with the fresh module; errors it raises are logged, never raised into
            the import.
    """

    def __init__(self, waiting: Mapping[str, Sequence[str]], on_loaded: Callable[[types.ModuleType], Any]) -> None:
        self.waiting = dict(waiting)
        self._on_loaded = on_loaded
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
        """The module's real spec, its loader wrapped, for a name waited for; else ``None``."""
        if fullname not in self.waiting:
            return None
        try:
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
            spec.loader = _NotifyingLoader(spec.loader, self._notify)
            return spec
        except Exception:
            return None  # declining is always safe: the normal finders still run after us

    def _notify(self, module: types.ModuleType) -> None:
        try:
            self._on_loaded(module)
        except Exception:
            log.debug("codewitness: setting up an integration for %s failed", module.__name__, exc_info=True)

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
