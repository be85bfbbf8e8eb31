"""The review queue: sampled calls of high-stakes functions waiting for a person's verdict.

Example:
    >>> queue = review_queue(store, status="open", limit=10)  # doctest: +SKIP
    >>> queue.counts, queue.items[0]["function"]  # doctest: +SKIP
    ({'open': 3, 'ok': 1, 'wrong': 0}, 'shop.pricing.total')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast, get_args

from codewitness.errors import InputError

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["STATUSES", "ReviewItem", "ReviewQueue", "Status", "review_queue"]

Status = Literal["open", "ok", "wrong", "all"]
STATUSES: tuple[Status, ...] = get_args(Status)


class ReviewItem(TypedDict):
    """One sampled call (an item of ``review list --json``); ``verdict`` is ``None`` while open."""

    id: str
    time: str
    function: str
    origin: str
    generation_ids: list[str]
    models: list[str]
    service: str
    revision: str | None
    arguments: dict[str, Any]
    result: Any
    verdict: str | None
    note: str | None


@dataclass(frozen=True)
class ReviewQueue:
    """Review items of one status, oldest first.

    Attributes:
        status: what was asked for.
        items: the items, at most ``limit`` of them.
        counts: how many items are ``open``, ``ok`` and ``wrong`` in the whole queue.
    """

    status: Status
    items: tuple[ReviewItem, ...]
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def matching(self) -> int:
        """How many items have the status asked for (``items`` may hold fewer)."""
        return sum(self.counts.values()) if self.status == "all" else self.counts.get(self.status, 0)


def review_queue(store: Store, *, status: str = "open", limit: int | None = None) -> ReviewQueue:
    """The review items of one status (``open``, ``ok``, ``wrong`` or ``all``).

    Raises:
        InputError: an unknown status.
    """
    from codewitness.store.invariants import review_items

    if status not in STATUSES:
        raise InputError(f"--status is one of {', '.join(STATUSES)}; not {status!r}")
    chosen: Status = status  # narrowed by the check above
    everything = cast(list[ReviewItem], review_items(store, status="all"))
    counts = {"open": 0, "ok": 0, "wrong": 0}
    for item in everything:
        counts[item["verdict"] or "open"] += 1
    wanted = [i for i in everything if chosen == "all" or (i["verdict"] or "open") == chosen]
    return ReviewQueue(status=chosen, items=tuple(wanted if limit is None else wanted[:limit]), counts=counts)
