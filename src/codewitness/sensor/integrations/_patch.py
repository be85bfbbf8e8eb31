"""Replacing a library's attributes, and putting them back: what every integration's setup does.

:class:`Patches` remembers each replaced attribute; :meth:`Patches.restore` puts the originals
back where the replacement is still in place (something patched over us since keeps its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codewitness.sensor.integrations import DidNotEnable

__all__ = ["Patches"]


class Patches:
    """The attributes one integration replaced."""

    def __init__(self) -> None:
        #: ``(owner, name, original, replacement, owned)``: ``owned`` when the original was the
        #: owner's own attribute (not inherited: restoring then deletes ours).
        self._done: list[tuple[Any, str, Any, Any, bool]] = []

    def replace(self, owner: Any, name: str, make: Callable[[Any], Any]) -> Any:
        """Set ``owner.name`` to ``make(original)``; returns the original.

        Raises:
            DidNotEnable: ``owner`` has no such attribute (a version of the library we do not know).
        """
        owned = name in vars(owner)
        original = getattr(owner, name, None)
        if original is None:
            raise DidNotEnable(f"{getattr(owner, '__name__', owner)!s} has no {name}")
        replacement = make(original)
        setattr(owner, name, replacement)
        self._done.append((owner, name, original, replacement, owned))
        return original

    def restore(self) -> None:
        """Put every original back, newest first."""
        while self._done:
            owner, name, original, replacement, owned = self._done.pop()
            if vars(owner).get(name) is not replacement:
                continue  # patched over since: leave theirs
            if owned:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
