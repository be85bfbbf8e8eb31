"""A post-import hook: call back when one of a few named modules has been imported.

The flow integrations patch libraries the application imports, never importing them
themselves. :class:`PostImportHook` sits first on ``sys.meta_path`` and answers only for the
module names it waits for: it lets the other finders find the module, wraps the loader so
that right after the module's code ran the callback gets the module, and gives the module its
real loader back: it is the sensor's own import hook (:mod:`codewitness.sensor._imports`)
answering for those names only.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from codewitness.sensor._imports import ImportHook

__all__ = ["PostImportHook"]

log = logging.getLogger("codewitness.sensor")


class _Waiting:
    """The module names a :class:`PostImportHook` waits for, as the import hook asks about them."""

    __slots__ = ("names",)

    def __init__(self, names: Mapping[str, Sequence[str]]) -> None:
        self.names = names

    def may_contain(self, fullname: str) -> bool:
        return fullname in self.names


class PostImportHook(ImportHook):
    """Calls ``on_loaded(module)`` after each module named in ``waiting`` is imported.

    The sensor's own :class:`~codewitness.sensor._imports.ImportHook`, answering for exactly the
    names waited for.

    Args:
        waiting: the module names waited for (the values are the caller's: who waits).
        on_loaded: called with the fresh module; errors it raises are logged, never raised into
            the import.
    """

    def __init__(self, waiting: Mapping[str, Sequence[str]], on_loaded: Callable[[types.ModuleType], Any]) -> None:
        self.waiting = dict(waiting)
        self._callback = on_loaded
        super().__init__(_Waiting(self.waiting), self._notify)

    def _notify(self, module: types.ModuleType) -> None:
        try:
            self._callback(module)
        except Exception:
            log.debug("codewitness: setting up an integration for %s failed", module.__name__, exc_info=True)
