"""``codewitness diff-behavior``: search for an input on which two revisions of a function differ.

A property-based search (Hypothesis): inputs are drawn from strategies built from the function's
type hints at the new revision (asked of the function itself, in its runner), mixed with the
function's corpus inputs (the real ones are tried first, and parameters without a usable hint take
their values from the corpus). Each drawn input runs at both revisions, each side in its own
long-lived runner process; when the outcomes differ, the difference is confirmed by a second run
on both sides (an input whose runs disagree on the same code is non-deterministic, not a
difference), and Hypothesis shrinks the input to a minimal one, which is shown with both outcomes.

Needs the ``behavior`` extra (Hypothesis): ``pip install "codewitness[behavior]"``.

Example:
    >>> found = search(store, root, "shop.pricing.total", against="v1", settings=config.behavior)  # doctest: +SKIP
    >>> found.input_text  # doctest: +SKIP
    "amount=Decimal('0.05'), qty=1, coupon='A'"
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness.behavior.compare import Difference, Rules, differences, equal
from codewitness.behavior.replay import input_text, limits_of, normalise
from codewitness.behavior.sides import Session, checkout, here
from codewitness.behavior.values import outcome_text
from codewitness.errors import InputError, MissingExtraError

if TYPE_CHECKING:
    from codewitness.config import BehaviorSection
    from codewitness.store import Store

__all__ = ["SearchResult", "search"]


@dataclass
class SearchResult:
    """What the search found (``input`` is ``None`` when the revisions agreed on every input tried)."""

    function: str
    old_label: str
    new_label: str
    tried: int = 0
    input: dict[str, Any] | None = None
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    differences: list[Difference] = field(default_factory=list)
    errors: int = 0
    nondeterministic: int = 0
    hints: dict[str, Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        """Whether an input with differing outcomes was found."""
        return self.input is not None

    @property
    def input_text(self) -> str:
        """The input found, as Python."""
        return input_text(self.input)

    def to_dict(self) -> dict[str, Any]:
        """The ``diff-behavior --json`` document."""
        return {
            "function": self.function,
            "old": self.old_label,
            "new": self.new_label,
            "tried": self.tried,
            "found": self.found,
            "input": self.input_text if self.found else None,
            "old_outcome": outcome_text(self.old) if self.old is not None else None,
            "new_outcome": outcome_text(self.new) if self.new is not None else None,
            "differences": [d.to_dict() for d in self.differences],
            "errors": self.errors,
            "nondeterministic": self.nondeterministic,
            "hints": self.hints,
            "exit_code": 1 if self.found else 0,
        }


def _strategy(hint: dict[str, Any], samples: list[Any], st: Any) -> Any:
    """A strategy drawing exact encodings for one type hint (corpus values when the hint says nothing)."""
    from codewitness.sensor.exact import canonical, encode

    kind = hint.get("kind")
    if kind == "none":
        return st.none()
    if kind == "bool":
        return st.booleans()
    if kind == "int":
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if kind == "float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "str":
        return st.text(max_size=20)
    if kind == "bytes":
        return st.binary(max_size=20).map(lambda b: {"$": "bytes", "b64": base64.b64encode(b).decode()})
    if kind == "decimal":
        return st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**9), max_value=10**9).map(encode)
    if kind in ("datetime", "date", "timedelta"):
        import datetime

        maker = {
            "datetime": st.datetimes(timezones=st.none() | st.just(datetime.UTC)),
            "date": st.dates(),
            "timedelta": st.timedeltas(),
        }[kind]
        return maker.map(encode)
    if kind == "literal":
        return st.sampled_from(hint["values"]) if hint["values"] else st.none()
    if kind == "enum":
        return st.sampled_from(hint["names"]).map(lambda n: {"$": "enum", "type": hint["type"], "name": n})
    if kind == "union":
        return st.one_of([_strategy(option, samples, st) for option in hint["options"]])
    if kind == "list":
        return st.lists(_strategy(hint["item"], [], st), max_size=6)
    if kind in ("set", "frozenset"):
        items = st.lists(_strategy(hint["item"], [], st), max_size=6, unique_by=canonical)
        return items.map(lambda xs: {"$": kind, "items": sorted(xs, key=canonical)})
    if kind == "tuple":
        return st.tuples(*[_strategy(h, [], st) for h in hint["items"]]).map(
            lambda xs: {"$": "tuple", "items": list(xs)}
        )
    if kind == "tuple_of":
        return st.lists(_strategy(hint["item"], [], st), max_size=6).map(lambda xs: {"$": "tuple", "items": xs})
    if kind == "dict":
        pairs = st.lists(
            st.tuples(_strategy(hint["key"], [], st), _strategy(hint["value"], [], st)),
            max_size=5,
            unique_by=lambda p: canonical(p[0]),
        )
        return pairs.map(lambda ps: {"$": "dict", "items": [list(p) for p in ps]})
    if kind == "dataclass":
        fields = {name: _strategy(h, [], st) for name, h in hint["fields"].items()}
        return st.fixed_dictionaries(fields).map(
            lambda d: {"$": "dataclass", "type": hint["type"], "fields": [[k, v] for k, v in d.items()]}
        )
    if samples:
        return st.sampled_from(samples)
    return st.none() | st.integers() | st.text(max_size=10)


def _inputs(parameters: dict[str, Any], corpus: list[dict[str, Any]], st: Any) -> tuple[Any, dict[str, Any]]:
    """The strategy of whole inputs: the corpus's, then drawn ones (a parameter without a hint or
    corpus values is left to its default when it has one)."""
    drawn: dict[str, Any] = {}
    for name, spec in parameters.items():
        samples = [entry[name] for entry in corpus if name in entry]
        hint = spec["hint"]
        if hint.get("kind") == "any" and not samples and not spec["required"]:
            continue
        drawn[name] = _strategy(hint, samples, st)
    generated = st.fixed_dictionaries(drawn)
    return (st.sampled_from(corpus) | generated) if corpus else generated, {k: v["hint"] for k, v in parameters.items()}


def search(
    store: Store,
    root: Path,
    function: str,
    *,
    against: str,
    settings: BehaviorSection,
    rev: str | None = None,
    max_examples: int = 200,
    seed: int = 0,
) -> SearchResult:
    """Search for an input on which ``function`` differs between ``against`` and the working tree (or ``rev``).

    Raises:
        MissingExtraError: Hypothesis is not installed.
        NotFoundError: a revision names no commit.
        InputError: the function cannot be loaded at the new revision.
    """
    try:
        import hypothesis
        from hypothesis import strategies as st
    except ImportError:
        raise MissingExtraError("behavior", "diff-behavior") from None
    from codewitness.store.corpus import corpus_entries

    name = normalise(function)
    rules = Rules.from_config(settings)
    limits = limits_of(settings)
    corpus = [e.input for e in corpus_entries(store, functions=[name], replayable=True) if e.input is not None]
    with checkout(root, against) as old_side, checkout(root, rev) if rev is not None else here(root) as new_side:
        result = SearchResult(name, old_side.label, new_side.label)
        with Session(new_side, limits) as new, Session(old_side, limits) as old:
            described = new.ask({"target": name, "describe": True})
            if "describe" not in described:
                raise InputError(f"{name} cannot be loaded at {new_side.label}: {described.get('error')}")
            strategy, result.hints = _inputs(described["describe"]["parameters"], corpus, st)

            def differs(arguments: dict[str, Any]) -> bool:
                result.tried += 1
                a = old.ask({"target": name, "input": arguments}).get("outcome") or {"error": "no outcome"}
                b = new.ask({"target": name, "input": arguments}).get("outcome") or {"error": "no outcome"}
                if not _comparable(a) or not _comparable(b):
                    result.errors += 1
                    return False
                if equal(a, b, rules):
                    return False
                again_a = old.ask({"target": name, "input": arguments}).get("outcome") or {}
                again_b = new.ask({"target": name, "input": arguments}).get("outcome") or {}
                if not (
                    _comparable(again_a)
                    and equal(a, again_a, rules)
                    and _comparable(again_b)
                    and equal(b, again_b, rules)
                ):
                    result.nondeterministic += 1
                    return False
                return True

            try:
                found = hypothesis.find(
                    strategy,
                    differs,
                    settings=hypothesis.settings(
                        max_examples=max_examples,
                        database=None,
                        deadline=None,
                        suppress_health_check=list(hypothesis.HealthCheck),
                    ),
                    random=random.Random(seed),  # noqa: S311 - a reproducible search, not security
                )
            except hypothesis.errors.NoSuchExample:
                return result
            result.input = found
            result.old = old.ask({"target": name, "input": found}).get("outcome")
            result.new = new.ask({"target": name, "input": found}).get("outcome")
            if result.old is not None and result.new is not None:
                result.differences = differences(result.old, result.new, rules)
    return result


def _comparable(outcome: dict[str, Any]) -> bool:
    return "ok" in outcome or "raised" in outcome
