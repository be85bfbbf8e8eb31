"""Ingested batch ids: an exporter's retry of a batch the server already took adds nothing.

Loading is idempotent by record id anyway (:mod:`codewitness.store.runtime`); the batch id lets
the server answer a retry at once and say it was one.

Example:
    >>> seen_batch(store, "6f1c...")  # doctest: +SKIP
    False
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from codewitness.model import utcnow
from codewitness.store import Store, schema

__all__ = ["record_batch", "seen_batch"]


def seen_batch(store: Store, batch_id: str) -> bool:
    """Whether a batch with this id was accepted before."""
    b = schema.ingest_batches
    with store.read() as conn:
        return conn.execute(select(b.c.id).where(b.c.id == batch_id)).first() is not None


def record_batch(store: Store, batch_id: str, *, token_id: str, records: int, inserted: int) -> bool:
    """Remember an accepted batch; ``False`` when another request recorded it first."""
    try:
        with store.write() as conn:
            conn.execute(
                schema.ingest_batches.insert().values(
                    id=batch_id, token_id=token_id, records=records, inserted=inserted, received_at=utcnow()
                )
            )
    except IntegrityError:
        return False
    return True
