"""Moving a ledger between stores as JSON Lines, without loss.

The stream holds one JSON object per line: first every prompt version
(``{"type": "prompt_version", "name", "version", "label", "prompt_hash", "created_at", "text"}``),
then every generation (``{"type": "generation", ...Generation.to_dict()}``), oldest first.
Importing keeps ids and version numbers; importing the same stream twice adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import select

from codewitness.errors import InputError
from codewitness.ledger._generations import _load, _record
from codewitness.ledger._prompts import ensure_prompt
from codewitness.model import Generation, generation_id, prompt_hash
from codewitness.store import Store, schema

__all__ = ["ImportResult", "export_jsonl", "import_jsonl"]

_BATCH = 500


def export_jsonl(store: Store, out: IO[str]) -> int:
    """Write the whole ledger to ``out``; returns the number of lines written."""
    pv, p, g = schema.prompt_versions, schema.prompts, schema.generations
    count = 0
    with store.read() as conn:
        versions = conn.execute(
            select(pv, p.c.text).join(p, p.c.hash == pv.c.prompt_hash).order_by(pv.c.name, pv.c.version)
        ).all()
        for v in versions:
            line = {
                "type": "prompt_version",
                "name": v.name,
                "version": v.version,
                "label": v.label,
                "prompt_hash": v.prompt_hash,
                "created_at": v.created_at.isoformat(),
                "text": v.text,
            }
            out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
        ids = list(conn.execute(select(g.c.id).order_by(g.c.created_at, g.c.id)).scalars())
        for start in range(0, len(ids), _BATCH):
            for gen in _load(conn, ids[start : start + _BATCH]):
                out.write(
                    json.dumps({"type": "generation", **gen.to_dict()}, ensure_ascii=False, sort_keys=True) + "\n"
                )
                count += 1
    return count


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    added: int
    already_present: int
    prompt_versions_added: int


def import_jsonl(store: Store, lines: Iterable[str]) -> ImportResult:
    """Load an exported stream into ``store``.

    The whole stream is parsed and checked before anything is written, and it is written in
    one transaction: a bad line leaves the store unchanged.

    Raises:
        InputError: a line is not JSON, not of a known type, or a generation's id does not match
            its content, or a prompt version conflicts with the one already stored.
    """
    versions: list[dict[str, Any]] = []
    generations: list[Generation] = []
    for number, line in _numbered(lines):
        try:
            data = json.loads(line)
            kind = data.get("type")
            if kind == "prompt_version":
                _check_version(data)
                versions.append(data)
            elif kind == "generation":
                gen = Generation.from_dict(data)
                expected = generation_id(model=gen.model, prompt=gen.prompt, params=gen.params, output=gen.output)
                if expected != gen.id:
                    raise ValueError(f"id {gen.id} does not match its content (expected {expected})")
                generations.append(gen)
            else:
                raise ValueError(f"unknown record type {kind!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"line {number}: {exc}") from None

    pv = schema.prompt_versions
    added = present = versions_added = 0
    with store.write() as conn:
        for data in versions:
            when = _aware(datetime.fromisoformat(data["created_at"]))
            digest = ensure_prompt(conn, data["text"], when)
            row = conn.execute(
                select(pv.c.prompt_hash).where(pv.c.name == data["name"], pv.c.version == data["version"])
            ).first()
            if row is not None:
                if row.prompt_hash != digest:
                    raise InputError(
                        f"prompt {data['name']}@{data['version']} differs from the one in the target store; "
                        "import into an empty store or rename the prompt"
                    )
                continue
            conn.execute(
                pv.insert().values(
                    name=data["name"],
                    version=data["version"],
                    prompt_hash=digest,
                    label=data.get("label"),
                    created_at=when,
                )
            )
            versions_added += 1
        for gen in generations:
            if _load(conn, [gen.id]):
                present += 1
                continue
            _record(conn, gen, None)
            added += 1
    return ImportResult(added=added, already_present=present, prompt_versions_added=versions_added)


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(lines, 1):
        if line.strip():
            yield number, line


def _check_version(data: dict[str, Any]) -> None:
    for key in ("name", "version", "created_at", "text"):
        if key not in data:
            raise ValueError(f"prompt_version without {key!r}")
    if not isinstance(data["version"], int) or data["version"] < 1:
        raise ValueError("prompt_version.version must be a positive whole number")
    if data.get("prompt_hash") and data["prompt_hash"] != prompt_hash(data["text"]):
        raise ValueError(f"prompt {data['name']}@{data['version']}: hash does not match its text")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
