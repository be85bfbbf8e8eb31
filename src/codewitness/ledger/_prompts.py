"""Prompt texts (stored once by hash) and their named, numbered versions."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from codewitness.errors import InputError, NotFoundError
from codewitness.model import prompt_hash, utcnow
from codewitness.store import Store, schema

__all__ = ["PromptVersion", "ensure_prompt", "prompt_diff", "prompt_history", "prompt_names", "resolve_prompt"]


@dataclass(frozen=True)
class PromptVersion:
    """One version of a named prompt."""

    name: str
    version: int
    label: str | None
    prompt_hash: str
    created_at: datetime
    text: str
    uses: int = 0

    @property
    def ref(self) -> str:
        """``NAME@VERSION``."""
        return f"{self.name}@{self.version}"


def ensure_prompt(conn: Connection, text: str, when: datetime | None = None) -> str:
    """Store ``text`` once; return its hash."""
    digest = prompt_hash(text)
    exists = conn.execute(select(schema.prompts.c.hash).where(schema.prompts.c.hash == digest)).first()
    if exists is None:
        conn.execute(schema.prompts.insert().values(hash=digest, text=text, created_at=when or utcnow()))
    return digest


def ensure_version(conn: Connection, name: str, digest: str, label: str | None, when: datetime) -> int:
    """The version number of ``digest`` under ``name``, adding the next version when it is new."""
    pv = schema.prompt_versions
    found = conn.execute(select(pv.c.version).where(pv.c.name == name, pv.c.prompt_hash == digest)).scalar()
    if found is not None:
        return int(found)
    latest = conn.execute(select(func.max(pv.c.version)).where(pv.c.name == name)).scalar() or 0
    version = int(latest) + 1
    conn.execute(pv.insert().values(name=name, version=version, prompt_hash=digest, label=label, created_at=when))
    return version


def prompt_names(store: Store) -> list[tuple[str, int, datetime, int]]:
    """Every prompt name with (latest version, last change, number of generations)."""
    pv, g = schema.prompt_versions, schema.generations
    with store.read() as conn:
        versions = conn.execute(
            select(pv.c.name, func.max(pv.c.version), func.max(pv.c.created_at)).group_by(pv.c.name).order_by(pv.c.name)
        ).all()
        uses: dict[Any, int] = dict(
            conn.execute(
                select(g.c.prompt_name, func.count()).where(g.c.prompt_name.is_not(None)).group_by(g.c.prompt_name)
            ).all()
        )
    return [(name, int(v), when, int(uses.get(name, 0))) for name, v, when in versions]


def prompt_history(store: Store, name: str) -> list[PromptVersion]:
    """All versions of ``name``, oldest first, with how many generations used each.

    Raises:
        NotFoundError: no prompt has that name.
    """
    pv, p, g = schema.prompt_versions, schema.prompts, schema.generations
    with store.read() as conn:
        rows = conn.execute(
            select(pv.c.version, pv.c.label, pv.c.prompt_hash, pv.c.created_at, p.c.text)
            .join(p, p.c.hash == pv.c.prompt_hash)
            .where(pv.c.name == name)
            .order_by(pv.c.version)
        ).all()
        uses: dict[Any, int] = dict(
            conn.execute(
                select(g.c.prompt_version, func.count()).where(g.c.prompt_name == name).group_by(g.c.prompt_version)
            ).all()
        )
    if not rows:
        raise NotFoundError(f"no prompt named {name!r}; `codewitness prompts list` shows the names")
    return [
        PromptVersion(name, int(r.version), r.label, r.prompt_hash, r.created_at, r.text, int(uses.get(r.version, 0)))
        for r in rows
    ]


def resolve_prompt(store: Store, ref: str) -> PromptVersion:
    """Find ``NAME@V`` (V a version number or a label) or ``NAME`` (its latest version).

    Raises:
        InputError: ``ref`` is malformed.
        NotFoundError: the name or version does not exist.
    """
    name, sep, wanted = ref.rpartition("@")
    if not sep:
        name, wanted = ref, ""
    if not name:
        raise InputError(f"bad prompt reference {ref!r}: use NAME or NAME@VERSION")
    history = prompt_history(store, name)
    if not wanted:
        return history[-1]
    for version in history:
        if str(version.version) == wanted:
            return version
    labelled = [v for v in history if v.label == wanted]
    if labelled:
        return labelled[-1]
    known = ", ".join(str(v.version) for v in history)
    raise NotFoundError(f"prompt {name!r} has no version {wanted!r} (versions: {known})")


def prompt_diff(store: Store, old_ref: str, new_ref: str) -> str:
    """A unified diff between two prompt versions (empty when the texts are equal)."""
    old, new = resolve_prompt(store, old_ref), resolve_prompt(store, new_ref)
    lines = difflib.unified_diff(
        old.text.splitlines(keepends=True),
        new.text.splitlines(keepends=True),
        fromfile=old.ref,
        tofile=new.ref,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
