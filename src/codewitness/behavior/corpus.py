"""The replay corpus: one set of inputs per function, and what a person adds to it.

The corpus is fed by ingested samples (the sensor's stratified samples and ``pytest
--codewitness-record``, absorbed as they are stored), by review items marked wrong (with the
corrected expectation when the reviewer gives one), and by hand (:func:`add_user_entry`,
``codewitness corpus add``). The rows live in :mod:`codewitness.store.corpus`.

Example:
    >>> entry = add_user_entry(store, "shop.pricing:total", {"amount": {"$": "decimal", "v": "19.99"}, "qty": 3},
    ...                        expect={"$": "decimal", "v": "59.97"})  # doctest: +SKIP
    >>> entry.replayable, entry.expect_source  # doctest: +SKIP
    (True, 'user')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codewitness.behavior.values import from_json
from codewitness.errors import InputError

if TYPE_CHECKING:
    from codewitness.store import Store
    from codewitness.store.corpus import CorpusEntry

__all__ = ["add_user_entry", "expectation"]


def expectation(value: Any, where: str = "--expect-json") -> dict[str, Any]:
    """An expected return value typed as JSON, as an outcome (``{"ok": encoding}``).

    Raises:
        InputError: the value is not a valid encoding.
    """
    return {"ok": from_json(value, where)}


def add_user_entry(
    store: Store,
    function: str,
    arguments: Any,
    *,
    expect: Any = None,
    note: str | None = None,
) -> CorpusEntry:
    """Add one input (arguments by name, typed as JSON) to ``function``'s corpus.

    Args:
        store: an open store.
        function: ``module.qualname`` or ``module:qualname``.
        arguments: a JSON object of the arguments by name (see :func:`codewitness.behavior.values.from_json`).
        expect: the expected return value, typed the same way (``None``: none).
        note: why this input matters.

    Raises:
        InputError: the function name is empty, or the arguments are not an object of valid values.
    """
    from codewitness.store.corpus import add_entry

    name = function.strip().replace(":", ".")
    if not name or "." not in name:
        raise InputError(f"name the function as module.qualname or module:qualname, not {function!r}")
    if not isinstance(arguments, dict):
        raise InputError('--args-json: arguments by name, a JSON object such as {"amount": 3}')
    encoded = {str(k): from_json(v, f"--args-json.{k}") for k, v in arguments.items()}
    outcome = expectation(expect) if expect is not None else None
    with store.write() as conn:
        return add_entry(
            conn,
            function=name,
            source="user",
            input=encoded,
            arguments=arguments,
            expect=outcome,
            expect_source="user" if outcome is not None else None,
            note=note,
        )
