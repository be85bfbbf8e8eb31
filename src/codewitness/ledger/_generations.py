"""Recording and finding generations."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Row, and_, or_, select
from sqlalchemy.exc import IntegrityError

from codewitness.errors import InputError, NotFoundError
from codewitness.ledger._prompts import ensure_prompt, ensure_version, resolve_prompt
from codewitness.model import FileRange, Generation
from codewitness.store import Store, schema

__all__ = ["find", "get", "record"]


def record(store: Store, generation: Generation, *, prompt_label: str | None = None) -> Generation:
    """Store ``generation`` unless a generation with its id is already there.

    Args:
        store: an open store.
        generation: the record; its ``prompt_version`` is assigned here when it has a ``prompt_name``.
        prompt_label: the caller's own name for the prompt version (e.g. ``"v3"``), kept beside the number.

    Returns:
        The stored record: the existing one when the id was already recorded.
    """
    try:
        with store.write() as conn:
            return _record(conn, generation, prompt_label)
    except IntegrityError:
        # Another writer (PostgreSQL allows concurrent writers) stored the same content first.
        return get(store, generation.id)


def _record(conn: Connection, generation: Generation, prompt_label: str | None) -> Generation:
    existing = _load(conn, [generation.id])
    if existing:
        return existing[0]
    digest = ensure_prompt(conn, generation.prompt, generation.created_at)
    version = None
    if generation.prompt_name:
        version = ensure_version(conn, generation.prompt_name, digest, prompt_label, generation.created_at)
    stored = dataclasses.replace(generation, prompt_version=version)
    conn.execute(
        schema.generations.insert().values(
            id=stored.id,
            agent=stored.agent,
            model=stored.model,
            params=dict(stored.params),
            prompt_hash=digest,
            prompt_name=stored.prompt_name,
            prompt_version=version,
            output=stored.output,
            session_id=stored.session_id,
            request_id=stored.request_id,
            tool_call_id=stored.tool_call_id,
            input_tokens=stored.input_tokens,
            output_tokens=stored.output_tokens,
            latency_ms=stored.latency_ms,
            created_at=stored.created_at,
        )
    )
    ranges = sorted(set(stored.files))
    if ranges:
        conn.execute(
            schema.generation_files.insert(),
            [{"generation_id": stored.id, "path": r.path, "start_line": r.start, "end_line": r.end} for r in ranges],
        )
    return dataclasses.replace(stored, files=tuple(ranges))


def get(store: Store, ref: str) -> Generation:
    """The generation with id ``ref``, or the only one whose id starts with it (any length, ``gen_`` optional).

    Raises:
        InputError: the prefix is empty or matches several generations.
        NotFoundError: nothing matches.
    """
    ref = ref.strip()
    g = schema.generations
    with store.read() as conn:
        found = _load(conn, [ref])
        if found:
            return found[0]
        bare = ref.removeprefix("gen_")
        if not bare:
            raise InputError("give a generation id, or the first characters of one after gen_")
        ids = (
            conn.execute(select(g.c.id).where(g.c.id.like(f"gen_{_escape_like(bare)}%", escape="\\")).limit(6))
            .scalars()
            .all()
        )
        if len(ids) > 1:
            raise InputError(f"{ref!r} matches several generations ({', '.join(ids[:5])}); give more characters")
        if ids:
            return _load(conn, ids)[0]
    raise NotFoundError(f"no generation {ref!r}; `codewitness generations list` shows what is recorded")


def find(
    store: Store,
    *,
    model: str | None = None,
    agent: str | None = None,
    since: datetime | None = None,
    file: str | None = None,
    prompt: str | None = None,
    session: str | None = None,
    limit: int | None = None,
) -> list[Generation]:
    """Generations matching every given filter, newest first.

    Args:
        model: exact model string.
        agent: agent id (``api``, ``claude-code``, ...).
        since: only those created at or after this aware datetime.
        file: a repository-relative path; a folder matches every file below it.
        prompt: a prompt name, or ``NAME@VERSION`` (a version number or label, as in ``prompts show``).
        session: the agent session id.
        limit: at most this many.

    Raises:
        NotFoundError: ``NAME@VERSION`` names an existing prompt and a version it does not have.
    """
    g, gf = schema.generations, schema.generation_files
    query = select(g.c.id).order_by(g.c.created_at.desc(), g.c.id)
    if model:
        query = query.where(g.c.model == model)
    if agent:
        query = query.where(g.c.agent == agent)
    if since:
        query = query.where(g.c.created_at >= since)
    if session:
        query = query.where(g.c.session_id == session)
    if prompt:
        name, sep, _wanted = prompt.rpartition("@")
        if sep and name and _is_prompt(store, name):
            # A version number or a label, read as `prompts show` reads it (an unknown one is NotFoundError).
            # When no prompt has the name before the @, the @ is part of a name ("team@cart").
            version = resolve_prompt(store, prompt).version
            query = query.where(and_(g.c.prompt_name == name, g.c.prompt_version == version))
        else:
            query = query.where(g.c.prompt_name == prompt)
    if file:
        path = file.strip("/")
        touched = select(gf.c.generation_id).where(
            or_(gf.c.path == path, gf.c.path.like(_escape_like(path) + "/%", escape="\\"))
        )
        query = query.where(g.c.id.in_(touched))
    if limit:
        query = query.limit(limit)
    with store.read() as conn:
        ids = list(conn.execute(query).scalars())
        return _load(conn, ids)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _load(conn: Connection, ids: Sequence[str]) -> list[Generation]:
    """Full records for ``ids``, in the order given (missing ids are skipped)."""
    if not ids:
        return []
    g, p, gf = schema.generations, schema.prompts, schema.generation_files
    rows: dict[str, Row] = {}  # type: ignore[type-arg]
    files: dict[str, list[FileRange]] = defaultdict(list)
    # Chunk the IN lists: SQLite limits bound parameters per statement.
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        for row in conn.execute(select(g, p.c.text).join(p, p.c.hash == g.c.prompt_hash).where(g.c.id.in_(chunk))):
            rows[row.id] = row
        for f in conn.execute(
            select(gf).where(gf.c.generation_id.in_(chunk)).order_by(gf.c.path, gf.c.start_line, gf.c.end_line)
        ):
            files[f.generation_id].append(FileRange(f.path, f.start_line, f.end_line))
    return [_to_generation(rows[i], files.get(i, [])) for i in ids if i in rows]


def _to_generation(row: Row, files: list[FileRange]) -> Generation:  # type: ignore[type-arg]
    return Generation(
        id=row.id,
        agent=row.agent,
        model=row.model,
        prompt=row.text,
        output=row.output,
        params=dict(row.params or {}),
        session_id=row.session_id,
        prompt_name=row.prompt_name,
        prompt_version=row.prompt_version,
        created_at=row.created_at,
        request_id=row.request_id,
        tool_call_id=row.tool_call_id,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        latency_ms=row.latency_ms,
        files=tuple(files),
    )


def _is_prompt(store: Store, name: str) -> bool:
    pv = schema.prompt_versions
    with store.read() as conn:
        return conn.execute(select(pv.c.version).where(pv.c.name == name).limit(1)).first() is not None
