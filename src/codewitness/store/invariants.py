"""Reading invariant counts and working the review queue in the store.

Example:
    >>> for rule in rule_counts(store):  # doctest: +SKIP
    ...     print(rule["rule"], rule["passed"], rule["breached"])
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select

from codewitness.errors import InputError, NotFoundError
from codewitness.model import utcnow
from codewitness.store import Store, schema

__all__ = ["mark_review", "regression_cases", "review_items", "rule_counts"]

Verdict = Literal["ok", "wrong"]


def rule_counts(store: Store, *, since: datetime | None = None) -> list[dict[str, Any]]:
    """Passes, breaches and rule errors per (function, rule), summed over the stored intervals."""
    counts, breaches = schema.runtime_invariant_counts, schema.runtime_breaches
    query = select(
        counts.c.function,
        counts.c.rule,
        func.max(counts.c.rule_kind).label("rule_kind"),
        func.max(counts.c.expression).label("expression"),
        func.max(counts.c.rule_source).label("source"),
        func.sum(counts.c.passed).label("passed"),
        func.sum(counts.c.breached).label("breached"),
        func.sum(counts.c.errors).label("errors"),
    ).group_by(counts.c.function, counts.c.rule)
    last = select(breaches.c.function, breaches.c.rule, func.max(breaches.c.time).label("last")).group_by(
        breaches.c.function, breaches.c.rule
    )
    if since is not None:
        query = query.where(counts.c.time >= since)
        last = last.where(breaches.c.time >= since)
    with store.read() as conn:
        latest = {(r.function, r.rule): r.last for r in conn.execute(last)}
        rows = [
            {
                "function": r.function,
                "rule": r.rule,
                "kind": r.rule_kind,
                "expression": r.expression,
                "source": r.source,
                "passed": int(r.passed or 0),
                "breached": int(r.breached or 0),
                "errors": int(r.errors or 0),
                "last_breach": latest[(r.function, r.rule)].isoformat() if (r.function, r.rule) in latest else None,
            }
            for r in conn.execute(query)
        ]
    return sorted(rows, key=lambda r: (-r["breached"], r["function"], r["rule"]))


def review_items(
    store: Store, *, status: Literal["open", "ok", "wrong", "all"] = "open", limit: int | None = None
) -> list[dict[str, Any]]:
    """Review items, oldest first, with their latest verdict (``None`` while open)."""
    items, marks = schema.review_items, schema.review_marks
    with store.read() as conn:
        verdicts: dict[str, tuple[str, str | None, datetime]] = {}
        for m in conn.execute(select(marks).order_by(marks.c.marked_at, marks.c.id)):
            verdicts[m.item_id] = (m.verdict, m.note, m.marked_at)
        out = []
        for row in conn.execute(select(items).order_by(items.c.time, items.c.id)).mappings():
            verdict = verdicts.get(row["id"])
            state = verdict[0] if verdict else None
            if (status == "open" and state is not None) or (status in ("ok", "wrong") and state != status):
                continue
            out.append(
                {
                    "id": row["id"],
                    "time": row["time"].isoformat(),
                    "function": row["function"],
                    "origin": row["origin"],
                    "generation_ids": row["generation_ids"],
                    "models": row["models"],
                    "service": row["service"],
                    "revision": row["revision"],
                    "arguments": row["arguments"],
                    "result": row["result"],
                    "verdict": state,
                    "note": verdict[1] if verdict else None,
                }
            )
            if limit is not None and len(out) >= limit:
                break
    return out


def mark_review(
    store: Store, ref: str, verdict: Verdict, note: str | None = None, *, expect: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Record a verdict on a review item (by id or unique prefix); ``wrong`` makes it a regression
    case and a corpus entry (source ``review``) for replay.

    Args:
        store: an open store.
        ref: the item's id or a unique prefix (4 characters or more).
        verdict: ``ok`` or ``wrong``.
        note: why, kept with the verdict.
        expect: for ``wrong``, the corrected expectation (``{"ok": exact encoding}``), kept
            with the case and the corpus entry (``codewitness gen-tests`` asserts it).

    Raises:
        InputError: the verdict is not ok/wrong, an expectation comes with ``ok``, or the prefix
            is ambiguous or too short.
        NotFoundError: no item has that id.
    """
    from codewitness.store.corpus import add_entry, entry_id, input_hash

    if verdict not in ("ok", "wrong"):
        raise InputError(f"a verdict is 'ok' or 'wrong', not {verdict!r}")
    if expect is not None and verdict != "wrong":
        raise InputError("a corrected expectation goes with the verdict 'wrong'")
    if len(ref) < 4:
        raise InputError("give at least 4 characters of the review item id")
    items = schema.review_items
    with store.write() as conn:
        found = conn.execute(select(items).where(items.c.id.like(ref.replace("%", "") + "%")).limit(2)).mappings().all()
        if not found:
            raise NotFoundError(f"no review item {ref!r}; `codewitness review list` shows the open ones")
        if len(found) > 1:
            raise InputError(f"{ref!r} matches several review items; give more characters")
        item = found[0]
        now = utcnow()
        conn.execute(
            schema.review_marks.insert().values(
                id=uuid.uuid4().hex, item_id=item["id"], verdict=verdict, note=note, marked_at=now
            )
        )
        cases = schema.regression_cases
        if verdict == "wrong":
            exists = conn.execute(select(cases.c.id).where(cases.c.item_id == item["id"])).first()
            if exists is None:
                conn.execute(
                    cases.insert().values(
                        id=uuid.uuid4().hex,
                        item_id=item["id"],
                        function=item["function"],
                        revision=item["revision"],
                        generation_ids=item["generation_ids"],
                        arguments=item["arguments"],
                        wrong_result=item["result"],
                        note=note,
                        created_at=now,
                        input=item["input"],
                        expect=expect,
                    )
                )
            elif expect is not None:
                conn.execute(cases.update().where(cases.c.item_id == item["id"]).values(expect=expect))
            add_entry(
                conn,
                function=item["function"],
                source="review",
                input=item["input"],
                arguments=item["arguments"],
                not_replayable=item["not_replayable"],
                expect=expect,
                expect_source="corrected" if expect is not None else None,
                revision=item["revision"],
                note=note,
            )
        else:
            conn.execute(cases.delete().where(cases.c.item_id == item["id"]))
            corpus = schema.corpus_entries
            own = entry_id(item["function"], input_hash(item["input"], item["arguments"]))
            conn.execute(corpus.delete().where(corpus.c.id == own, corpus.c.source == "review"))
    return {"id": item["id"], "function": item["function"], "verdict": verdict, "note": note}


def regression_cases(store: Store) -> list[dict[str, Any]]:
    """Calls a reviewer marked wrong: the inputs to replay and the output that was wrong."""
    cases = schema.regression_cases
    with store.read() as conn:
        return [
            {
                "id": r["id"],
                "item_id": r["item_id"],
                "function": r["function"],
                "revision": r["revision"],
                "generation_ids": r["generation_ids"],
                "arguments": r["arguments"],
                "wrong_result": r["wrong_result"],
                "input": r["input"],
                "expect": r["expect"],
                "note": r["note"],
                "created_at": r["created_at"].isoformat(),
            }
            for r in conn.execute(select(cases).order_by(cases.c.created_at)).mappings()
        ]
