"""The core records, as frozen dataclasses. Standard library only.

* :class:`Generation` — one AI production of code, content-addressed by :func:`generation_id`.
* :class:`FileRange` — a file and an inclusive 1-based line span.
* :class:`Checkpoint` — one file before and after one agent edit.
* :class:`Origin` — who wrote a line, on what evidence, with what confidence.
* :class:`FunctionRef` — a function and the roll-up of its lines' origins.
* :class:`Manifest` / :class:`ManifestFunction` — the AI-attributed functions at one revision,
  written at build time and read by the runtime sensor (``.codewitness/manifest.json``).

Example:
    >>> generation_id(model="m", prompt="p", params={"temperature": 0.2}, output="o")[:4]
    'gen_'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "AGENTS",
    "EVIDENCE",
    "MANIFEST_VERSION",
    "ORIGINS",
    "Checkpoint",
    "EvidenceKind",
    "FileRange",
    "FunctionRef",
    "Generation",
    "Manifest",
    "ManifestFunction",
    "Origin",
    "OriginKind",
    "generation_id",
    "prompt_hash",
    "utcnow",
]

OriginKind = Literal["ai", "human", "mixed", "unknown"]
ORIGINS: tuple[OriginKind, ...] = ("ai", "human", "mixed", "unknown")

#: Evidence kinds, strongest first. ``hook``: captured edits not yet committed; ``note``: a
#: codewitness git note; ``import``: a git-ai note or an Agent Trace record; ``trailer``: a commit
#: mark left by an agent; ``author``: the commit author is a person; ``none``: nothing is known.
EvidenceKind = Literal["hook", "note", "import", "trailer", "author", "none"]
EVIDENCE: tuple[EvidenceKind, ...] = ("hook", "note", "import", "trailer", "author", "none")

#: Agent identifiers used across records, hooks and reports.
AGENTS: tuple[str, ...] = ("claude-code", "cursor", "codex", "gemini-cli", "copilot", "aider", "devin", "api")

MANIFEST_VERSION = 1
_ID_HEX = 20


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (microseconds kept)."""
    return datetime.now(UTC)


def prompt_hash(text: str) -> str:
    """The sha256 hex digest of a prompt's UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def generation_id(*, model: str, prompt: str, params: Mapping[str, Any], output: str) -> str:
    """The content address of a generation: ``gen_`` + the first 20 hex digits of a sha256.

    The hash covers exactly the model string, the prompt text, the parameters (canonical JSON,
    keys sorted) and the raw output, so recording the same generation twice yields the same id
    and changing any parameter yields a new one.
    """
    payload = _canonical({"model": model, "output": output, "params": dict(params), "prompt": prompt})
    return "gen_" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:_ID_HEX]


@dataclass(frozen=True, order=True)
class FileRange:
    """A file path (repository-relative, ``/``-separated) and an inclusive 1-based line span."""

    path: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 1 or self.end < self.start:
            raise ValueError(f"bad line range {self.start}-{self.end} for {self.path}")

    def __str__(self) -> str:
        return f"{self.path}:{self.start}-{self.end}"

    @classmethod
    def parse(cls, text: str) -> FileRange:
        """``"path:START-END"`` or ``"path:LINE"``; raises ``ValueError`` with a usable message."""
        path, sep, span = text.rpartition(":")
        first, dash, last = span.partition("-")
        try:
            if not sep or not path:
                raise ValueError
            return cls(path.replace("\\", "/").strip("/"), int(first), int(last) if dash else int(first))
        except ValueError:
            raise ValueError(f"bad file range {text!r}: use path:START-END with 1 <= START <= END") from None


@dataclass(frozen=True)
class Generation:
    """One AI production of code.

    ``id`` is derived from model, prompt, params and output (see :func:`generation_id`); the
    other fields describe where and when it happened and are not part of the address.
    """

    id: str
    agent: str
    model: str
    prompt: str
    output: str
    params: Mapping[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    created_at: datetime = field(default_factory=utcnow)
    request_id: str | None = None
    tool_call_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    files: tuple[FileRange, ...] = ()

    @property
    def prompt_hash(self) -> str:
        """sha256 hex of the prompt text."""
        return prompt_hash(self.prompt)

    @classmethod
    def create(
        cls,
        *,
        agent: str,
        model: str,
        prompt: str,
        output: str,
        params: Mapping[str, Any] | None = None,
        **details: Any,
    ) -> Generation:
        """Build a generation, computing its content address."""
        params = dict(params or {})
        gid = generation_id(model=model, prompt=prompt, params=params, output=output)
        return cls(id=gid, agent=agent, model=model, prompt=prompt, output=output, params=params, **details)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``--json`` and export shape)."""
        return {
            "id": self.id,
            "agent": self.agent,
            "model": self.model,
            "params": dict(self.params),
            "session_id": self.session_id,
            "prompt": self.prompt,
            "prompt_hash": self.prompt_hash,
            "prompt_name": self.prompt_name,
            "prompt_version": self.prompt_version,
            "output": self.output,
            "created_at": self.created_at.isoformat(),
            "request_id": self.request_id,
            "tool_call_id": self.tool_call_id,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "latency_ms": self.latency_ms,
            "files": [{"path": r.path, "start": r.start, "end": r.end} for r in self.files],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Generation:
        """Inverse of :meth:`to_dict`; raises ``KeyError``/``ValueError``/``TypeError`` on bad data."""
        created = datetime.fromisoformat(data["created_at"])
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        return cls(
            id=data["id"],
            agent=data["agent"],
            model=data["model"],
            prompt=data["prompt"],
            output=data["output"],
            params=dict(data.get("params") or {}),
            session_id=data.get("session_id"),
            prompt_name=data.get("prompt_name"),
            prompt_version=data.get("prompt_version"),
            created_at=created,
            request_id=data.get("request_id"),
            tool_call_id=data.get("tool_call_id"),
            input_tokens=data.get("input_tokens"),
            output_tokens=data.get("output_tokens"),
            latency_ms=data.get("latency_ms"),
            files=tuple(FileRange(f["path"], int(f["start"]), int(f["end"])) for f in data.get("files") or ()),
        )


@dataclass(frozen=True)
class Checkpoint:
    """One file before and after one agent edit.

    ``added`` are the line spans of the new content (numbered as in ``after``) that the edit
    wrote; ``removed`` the spans of the old content (numbered as in ``before``) it replaced.
    Hashes are sha256 hex of the file bytes; ``None`` when the file did not exist.
    """

    id: str
    path: str
    before_hash: str | None
    after_hash: str | None
    added: tuple[tuple[int, int], ...]
    removed: tuple[tuple[int, int], ...]
    generation_id: str | None = None
    session_id: str | None = None
    agent: str | None = None
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Origin:
    """Who wrote one line, on what evidence, with what confidence (0..1)."""

    kind: OriginKind
    evidence: EvidenceKind
    confidence: float
    generation_ids: tuple[str, ...] = ()
    agent: str | None = None
    model: str | None = None
    session_id: str | None = None


@dataclass(frozen=True)
class FunctionRef:
    """A function (``module.qualname``), where it is, and the roll-up of its lines' origins."""

    qualname: str
    path: str
    start_line: int
    end_line: int
    ai_share: float = 0.0
    human_edit_share: float = 0.0
    generation_ids: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()


@dataclass(frozen=True)
class ManifestFunction:
    """One AI-attributed function as the runtime sensor sees it.

    ``module`` is the importable module name and ``qualname`` the function's ``__qualname__``
    (``Class.method``, ``outer.<locals>.inner``); together they find the code object.
    """

    module: str
    qualname: str
    path: str
    start_line: int
    end_line: int
    ai_share: float
    generation_ids: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``module.qualname``, the form used in OpenTelemetry's ``code.function.name``."""
        return f"{self.module}.{self.qualname}"


@dataclass(frozen=True)
class Manifest:
    """The AI-attributed functions at one revision (``.codewitness/manifest.json``).

    ``functions`` lists every function with at least one AI-written line, with its share and
    generations, so that facts about any of them carry their origin. ``watch_min_share`` is the
    smallest share the sensor watches by default (:attr:`watched`); 0 watches them all. A manifest
    written before the field existed reads as 0 (it listed only the functions to watch).
    """

    revision: str | None
    functions: tuple[ManifestFunction, ...]
    created_at: datetime = field(default_factory=utcnow)
    version: int = MANIFEST_VERSION
    watch_min_share: float = 0.0
    #: The repository's URL (``origin``, without credentials) when known at build time; runtime
    #: telemetry names it as ``vcs.repository.url.full``.
    repository: str | None = None

    @property
    def watched(self) -> tuple[ManifestFunction, ...]:
        """The functions the sensor watches by default: AI share at least :attr:`watch_min_share`."""
        return tuple(f for f in self.functions if f.ai_share > 0 and f.ai_share >= self.watch_min_share)

    def to_json(self) -> str:
        """Serialize; stable key order so the file diffs cleanly."""
        return json.dumps(
            {
                "version": self.version,
                "revision": self.revision,
                **({"repository": self.repository} if self.repository else {}),
                "created_at": self.created_at.isoformat(),
                "watch_min_share": round(self.watch_min_share, 4),
                "functions": [
                    {
                        "module": f.module,
                        "qualname": f.qualname,
                        "path": f.path,
                        "start_line": f.start_line,
                        "end_line": f.end_line,
                        "ai_share": round(f.ai_share, 4),
                        "generation_ids": list(f.generation_ids),
                        "models": list(f.models),
                        "agents": list(f.agents),
                    }
                    for f in self.functions
                ],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest; raises ``ValueError`` with a one-line reason on bad input."""
        try:
            data = json.loads(text)
            version = int(data["version"])
            if version != MANIFEST_VERSION:
                raise ValueError(f"manifest version {version} is not supported (expected {MANIFEST_VERSION})")
            functions = tuple(
                ManifestFunction(
                    module=str(f["module"]),
                    qualname=str(f["qualname"]),
                    path=str(f["path"]),
                    start_line=int(f["start_line"]),
                    end_line=int(f["end_line"]),
                    ai_share=float(f["ai_share"]),
                    generation_ids=tuple(map(str, f.get("generation_ids", ()))),
                    models=tuple(map(str, f.get("models", ()))),
                    agents=tuple(map(str, f.get("agents", ()))),
                )
                for f in data["functions"]
            )
            created = datetime.fromisoformat(data["created_at"])
            watch = data.get("watch_min_share", 0.0)
            if isinstance(watch, bool) or not isinstance(watch, int | float) or not 0.0 <= watch <= 1.0:
                raise ValueError(f"manifest watch_min_share must be a number between 0 and 1, got {watch!r}")
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a codewitness manifest ({type(exc).__name__}: {exc})") from None
        return cls(
            revision=data.get("revision"),
            functions=functions,
            created_at=created,
            version=version,
            watch_min_share=float(watch),
            repository=data["repository"] if isinstance(data.get("repository"), str) else None,
        )
