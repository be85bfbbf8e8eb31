"""Comparing two outcomes of one input exactly, then explaining where they differ.

An outcome is how a call ended: ``{"ok": value}`` (an exact encoding, :mod:`codewitness.sensor.exact`)
or ``{"raised": {"type": "builtins.ValueError", "message": "..."}}``. Two outcomes are equal when:

* both returned, and the values are equal **and of the same type** all the way down: ``2`` is not
  ``2.0`` (unless ``behavior.numbers = "loose"``), ``Decimal("2.50")`` is not ``Decimal("2.5")``,
  a naive datetime is not an aware one, a list is not a tuple; floats may be given a tolerance
  (``behavior.float_rel``, ``behavior.float_abs``); dicts and sets compare regardless of order;
* or both raised the same exception type with the same message.

**Noise rules** leave parts out: ``behavior.ignore`` are paths (``result.id``,
``result.items[*].created_at``, ``raised.message``; ``*`` is any key or field, ``[*]`` any index),
``behavior.ignore_keys`` regular expressions on key and field names anywhere (``^trace_``).

:func:`differences` returns the first few places that differ, each with both sides written as
Python (a minimal structural diff): ``result.total: Decimal('10.01') -> Decimal('10.00')``.

Example:
    >>> rules = Rules()
    >>> [d.path for d in differences({"ok": 2}, {"ok": 2.0}, rules)]
    ['result']
    >>> differences({"ok": 2}, {"ok": 2.0}, Rules(numbers="loose"))
    []
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from codewitness.behavior.values import display

if TYPE_CHECKING:
    from codewitness.config import BehaviorSection

__all__ = ["Difference", "Rules", "differences", "equal"]

_MAX = 20
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Difference:
    """One place two outcomes differ: its path, and each side as Python source (cut)."""

    path: str
    old: str
    new: str

    def to_dict(self) -> dict[str, str]:
        """``{"path", "old", "new"}``."""
        return {"path": self.path, "old": self.old, "new": self.new}


def _path_pattern(path: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(path):
        if path.startswith("[*]", i):
            out.append(r"\[[^\]]*\]")
            i += 3
        elif path[i] == "*":
            out.append(r"[^.\[]+")
            i += 1
        else:
            out.append(re.escape(path[i]))
            i += 1
    return re.compile("".join(out) + "$")


@dataclass(frozen=True)
class Rules:
    """How strictly outcomes are compared (``[tool.codewitness.behavior]``, see the module docstring)."""

    numbers: Literal["strict", "loose"] = "strict"
    float_rel: float = 0.0
    float_abs: float = 0.0
    ignore: tuple[str, ...] = ()
    ignore_keys: tuple[str, ...] = ()
    _paths: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)
    _keys: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_paths", tuple(_path_pattern(p) for p in self.ignore))
        object.__setattr__(self, "_keys", tuple(re.compile(k) for k in self.ignore_keys))

    @classmethod
    def from_config(cls, section: BehaviorSection) -> Rules:
        """The rules of the configuration's ``behavior`` section."""
        return cls(
            numbers=section.numbers,  # type: ignore[arg-type]
            float_rel=section.float_rel,
            float_abs=section.float_abs,
            ignore=section.ignore,
            ignore_keys=section.ignore_keys,
        )

    def ignored(self, path: str, key: str | None) -> bool:
        """Whether the part at ``path`` (reached through ``key``, when a key or field) is noise."""
        if key is not None and any(k.search(key) for k in self._keys):
            return True
        return any(p.match(path) for p in self._paths)


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict) and value.get("$") in ("int", "float", "decimal"):
        try:
            return float(value["v"])
        except (TypeError, ValueError):
            return None
    return None


def _close(a: float, b: float, rules: Rules) -> bool:
    if a == b or (math.isnan(a) and math.isnan(b)):
        return True
    return math.isclose(a, b, rel_tol=rules.float_rel, abs_tol=rules.float_abs)


class _Walk:
    def __init__(self, rules: Rules, limit: int) -> None:
        self.rules = rules
        self.limit = limit
        self.found: list[Difference] = []

    def add(self, path: str, old: Any, new: Any, *, text: tuple[str, str] | None = None) -> None:
        if len(self.found) < self.limit:
            shown = text if text is not None else (display(old), display(new))
            self.found.append(Difference(path, *shown))

    def full(self) -> bool:
        return len(self.found) >= self.limit

    def child(self, path: str, key: str | None, old: Any, new: Any) -> None:
        if not self.full() and not self.rules.ignored(path, key):
            self.value(path, old, new)

    def value(self, path: str, a: Any, b: Any) -> None:
        if type(a) is float and type(b) is float:
            if not _close(a, b, self.rules):
                self.add(path, a, b)
            return
        if self.rules.numbers == "loose":
            x, y = _numeric(a), _numeric(b)
            if x is not None and y is not None:
                if not _close(x, y, self.rules):
                    self.add(path, a, b)
                return
        if type(a) is not type(b):
            self.add(path, a, b)
            return
        if isinstance(a, list):
            self.sequence(path, a, b)
            return
        if not isinstance(a, dict):
            if a != b:
                self.add(path, a, b)
            return
        tag_a, tag_b = a.get("$"), b.get("$")
        if tag_a != tag_b or a.get("type") != b.get("type"):
            self.add(path, a, b)
            return
        if tag_a == "tuple":
            self.sequence(path, a["items"], b["items"])
        elif tag_a == "dict":
            self.mapping(path, a["items"], b["items"])
        elif tag_a in ("set", "frozenset"):
            self.collection(path, a["items"], b["items"])
        elif tag_a in ("namedtuple", "dataclass", "object", "pydantic"):
            self.fields(path, a["fields"], b["fields"])
        elif _canonical(a) != _canonical(b):
            self.add(path, a, b)

    def sequence(self, path: str, a: list[Any], b: list[Any]) -> None:
        if len(a) != len(b):
            self.add(f"{path} (length)", None, None, text=(str(len(a)), str(len(b))))
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if self.full():
                return
            self.child(f"{path}[{i}]", None, x, y)

    def mapping(self, path: str, a: list[list[Any]], b: list[list[Any]]) -> None:
        left = {_canonical(k): (k, v) for k, v in a}
        right = {_canonical(k): (k, v) for k, v in b}
        for key in list(left) + [k for k in right if k not in left]:
            if self.full():
                return
            raw = (left.get(key) or right[key])[0]
            name = raw if isinstance(raw, str) else None
            where = f"{path}.{raw}" if name is not None and _IDENT.fullmatch(name) else f"{path}[{display(raw, 60)}]"
            if self.rules.ignored(where, name):
                continue
            if key not in right:
                self.add(where, left[key][1], None, text=(display(left[key][1]), "(missing)"))
            elif key not in left:
                self.add(where, None, right[key][1], text=("(missing)", display(right[key][1])))
            else:
                self.value(where, left[key][1], right[key][1])

    def collection(self, path: str, a: list[Any], b: list[Any]) -> None:
        left = {_canonical(x): x for x in a}
        right = {_canonical(x): x for x in b}
        only_old = [left[k] for k in left if k not in right]
        only_new = [right[k] for k in right if k not in left]
        if only_old or only_new:
            self.add(
                f"{path} (items)",
                None,
                None,
                text=(
                    ", ".join(display(x, 80) for x in only_old) or "-",
                    ", ".join(display(x, 80) for x in only_new) or "-",
                ),
            )

    def fields(self, path: str, a: list[list[Any]], b: list[list[Any]]) -> None:
        left, right = dict((k, v) for k, v in a), dict((k, v) for k, v in b)
        for key in list(left) + [k for k in right if k not in left]:
            if self.full():
                return
            where = f"{path}.{key}"
            if self.rules.ignored(where, key):
                continue
            if key not in right:
                self.add(where, left[key], None, text=(display(left[key]), "(missing)"))
            elif key not in left:
                self.add(where, None, right[key], text=("(missing)", display(right[key])))
            else:
                self.value(where, left[key], right[key])


def differences(old: Any, new: Any, rules: Rules, *, limit: int = _MAX) -> list[Difference]:
    """Where two outcomes differ under ``rules`` (empty when they are equal), at most ``limit`` places.

    Outcomes that are neither a return nor a raise (errors) are not compared: the caller sorts
    them out first.
    """
    from codewitness.behavior.values import outcome_text

    walk = _Walk(rules, limit)
    if "ok" in old and "ok" in new:
        if not rules.ignored("result", None):
            walk.value("result", old["ok"], new["ok"])
    elif "raised" in old and "raised" in new:
        for part in ("type", "message"):
            where = f"raised.{part}"
            a, b = old["raised"].get(part), new["raised"].get(part)
            if a != b and not rules.ignored(where, part):
                walk.add(where, a, b, text=(repr(a), repr(b)))
    else:
        walk.add("outcome", old, new, text=(outcome_text(old), outcome_text(new)))
    return walk.found


def equal(old: Any, new: Any, rules: Rules) -> bool:
    """Whether two outcomes are the same under ``rules``."""
    return not differences(old, new, rules, limit=1)
