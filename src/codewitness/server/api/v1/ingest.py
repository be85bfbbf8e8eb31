"""``POST /api/v1/ingest``: the sensor's HTTP exporter's batches into the store.

The body is JSON lines (one record per line), gzip-compressed when ``Content-Encoding: gzip``
says so, at most ``max_body_bytes`` as sent and ``max_batch_bytes`` decompressed (413 beyond).
A body that is not gzip, not UTF-8, or has a line that is not a JSON object with a string
``id`` and ``kind`` is a malformed batch: 400, and nothing of it is stored. The records go
through the same validator and loader as ``codewitness ingest`` of a spool: a record with a bad
field is refused on its own and counted; a batch whose every record is refused is answered 422.
Loading is idempotent by record id; the exporter's ``X-Codewitness-Batch`` id lets a retried
batch be answered at once (``"retry": true``), adding nothing.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from codewitness.ingest import IngestResult as IngestResult_
from codewitness.ingest import ingest_batch
from codewitness.server.auth import Writer, store_of
from codewitness.store import Store

_fast_loads: Callable[[str], Any] | None
try:  # the server extra's; it parses a record about twice as fast as the standard library
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - installed without the extra's packages
    _fast_loads = None

__all__ = ["router"]

router = APIRouter()

BATCH_HEADER = "x-codewitness-batch"
_BATCH_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def load_records(store: Store, records: Iterable[Mapping[str, Any]], client: str) -> IngestResult_:
    """The one validator/loader every ingest path shares (``codewitness ingest`` of a spool too)."""
    return ingest_batch(store, records, source=f"http {client}")


class IngestResult(BaseModel):
    """What one batch did."""

    batch: str | None
    retry: bool
    records: int
    inserted: int
    duplicates: int
    bad: int
    by_kind: dict[str, int]
    bad_reasons: dict[str, int]


class BadBatch(ValueError):
    """A body that is not a batch of records."""


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body is {int(declared):,} bytes; the server takes at most {limit:,}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the body is over {limit:,} bytes, the most the server takes")
        chunks.append(chunk)
    return b"".join(chunks)


def _inflate(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise BadBatch("the body is not gzip (Content-Encoding: gzip)") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise HTTPException(413, f"the batch is over {limit:,} bytes decompressed, the most the server takes")
    if not inflater.eof:
        raise BadBatch("the gzip body is cut short")
    if inflater.unused_data:
        raise BadBatch("data follows the gzip body")
    return data


def parse_batch(data: bytes) -> list[dict[str, Any]]:
    """The records of a JSON-lines batch.

    Raises:
        BadBatch: not UTF-8, or a line that is not a JSON object with a string ``id`` and ``kind``.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBatch("the batch is not UTF-8") from None
    records: list[dict[str, Any]] = []
    loads = _reader(data)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = loads(line)
        except (ValueError, RecursionError):
            raise BadBatch(f"line {number} is not JSON") from None
        if not (isinstance(record, dict) and isinstance(record.get("id"), str) and isinstance(record.get("kind"), str)):
            raise BadBatch(f"line {number} is not a record (a JSON object with a string id and kind)")
        records.append(record)
    return records


#: Each ASCII digit as "0": 19 of them in a row then show a number that may not fit in 64 bits.
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
#: A batch with more runs of 19 digits than this is read by the standard library alone.
_MOST_RUNS = 16


def _reader(data: bytes) -> Callable[[str], Any]:
    """How the lines of a batch are read: ``json.loads`` as it reads them, by orjson where that reads
    the same.

    A line orjson refuses and the standard library takes (``NaN``, a lone surrogate escape) is
    read by the standard library, and so is every line with 19 digits in a row (orjson makes an
    integer beyond 64 bits a float): a batch means what it always meant
    (tests/server/test_parse_batch.py compares them). Such runs are found in the whole batch at
    once (a line with one holds the first 19 digits of a run found); a random hex id has one now
    and then, so most batches have a few.
    """
    if _fast_loads is None:
        return json.loads
    fast = _fast_loads
    digits = data.translate(_DIGITS)
    runs: list[str] = []
    at = digits.find(_LONG_NUMBER)
    while at != -1:
        if len(runs) == _MOST_RUNS:
            return json.loads
        runs.append(data[at : at + len(_LONG_NUMBER)].decode("ascii"))
        at = digits.find(_LONG_NUMBER, at + len(_LONG_NUMBER))

    def loads(line: str) -> Any:
        if runs and any(run in line for run in runs):
            return json.loads(line)
        try:
            return fast(line)
        except ValueError:  # orjson.JSONDecodeError
            return json.loads(line)

    return loads


@router.post(
    "/ingest",
    response_model=IngestResult,
    summary="Ingest one batch of sensor records",
    responses={
        400: {"description": "A malformed batch; nothing was stored."},
        401: {"description": "No valid token."},
        413: {"description": "The body or the decompressed batch is too large."},
        422: {"description": "Every record of the batch was refused."},
    },
)
async def ingest(request: Request, token: Writer) -> IngestResult:
    """Store a batch of sensor records (JSON lines, gzip or not); a retried batch adds nothing."""
    settings = request.app.state.settings
    store = store_of(request)
    body = await _body(request, settings.max_body_bytes)
    batch_id = request.headers.get(BATCH_HEADER)
    if batch_id is not None and not _BATCH_ID.match(batch_id):
        raise HTTPException(400, f"{BATCH_HEADER}: 1 to 64 letters, digits or _.:-")
    try:
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding == "gzip":
            data = _inflate(body, settings.max_batch_bytes)
        elif encoding in ("identity", ""):
            if len(body) > settings.max_batch_bytes:
                raise HTTPException(413, f"the batch is over {settings.max_batch_bytes:,} bytes")
            data = body
        else:
            raise BadBatch(f"Content-Encoding {encoding!r} is not taken: send gzip or nothing")
        records = parse_batch(data)
    except BadBatch as bad:
        raise HTTPException(400, f"malformed batch, nothing stored: {bad}") from None
    if batch_id is not None:
        from codewitness.store.batches import seen_batch

        if await run_in_threadpool(seen_batch, store, batch_id):
            return IngestResult(
                batch=batch_id,
                retry=True,
                records=len(records),
                inserted=0,
                duplicates=len(records),
                bad=0,
                by_kind={},
                bad_reasons={},
            )
    client = request.client.host if request.client else "unknown"
    counts = await run_in_threadpool(load_records, store, records, client)
    if records and counts.bad == len(records):
        reasons = "; ".join(f"{n} {reason}" for reason, n in sorted(counts.reasons.items(), key=lambda kv: -kv[1]))
        raise HTTPException(422, f"every record was refused, nothing stored: {reasons}")
    if batch_id is not None:
        from codewitness.store.batches import record_batch

        await run_in_threadpool(
            lambda: record_batch(store, batch_id, token_id=token.id, records=len(records), inserted=counts.inserted)
        )
    return IngestResult(
        batch=batch_id,
        retry=False,
        records=len(records),
        inserted=counts.inserted,
        duplicates=counts.duplicates,
        bad=counts.bad,
        by_kind=counts.by_kind,
        bad_reasons=counts.reasons,
    )
