"""Versioned schema migrations, applied in order, once each.

Each module here named ``mNNNN_slug.py`` is one migration with ``upgrade(conn)``; its id is
the module name. Applied ids are recorded in ``cw_migrations``. A migration declares the
tables it creates itself (so it stays true as :mod:`codewitness.store.schema` moves on).
A database that carries an id this code does not know was written by a newer codewitness
and is refused rather than touched.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from codewitness.errors import StoreError
from codewitness.model import utcnow

__all__ = ["Migration", "apply", "available"]

_NAME = re.compile(r"^m\d{4}_[a-z0-9_]+$")


@dataclass(frozen=True)
class Migration:
    """One schema step."""

    id: str
    upgrade: Callable[[Connection], None]


def available() -> tuple[Migration, ...]:
    """Every migration shipped with this version, in order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if _NAME.match(info.name):
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append(Migration(info.name, module.upgrade))
    return tuple(sorted(found, key=lambda m: m.id))


def apply(conn: Connection, migrations: Sequence[Migration] | None = None) -> list[str]:
    """Apply the pending migrations inside the caller's transaction.

    Args:
        conn: a connection inside a write transaction.
        migrations: the migrations to bring the database to (all shipped ones by default).

    Returns:
        The ids applied now, in order.

    Raises:
        StoreError: the database was written by a newer codewitness.
    """
    from codewitness.store import schema

    steps = available() if migrations is None else tuple(migrations)
    if conn.dialect.name == "postgresql":
        # Two processes opening a fresh database at once must not both create tables.
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727141)")
    schema.migrations.create(conn, checkfirst=True)
    done = set(conn.execute(select(schema.migrations.c.id)).scalars())
    unknown = done - {m.id for m in available()}
    if unknown:
        raise StoreError(
            f"the database has migrations this codewitness does not know ({', '.join(sorted(unknown))}); "
            "upgrade codewitness"
        )
    applied = []
    for step in steps:
        if step.id in done:
            continue
        step.upgrade(conn)
        conn.execute(schema.migrations.insert().values(id=step.id, applied_at=utcnow()))
        applied.append(step.id)
    return applied
