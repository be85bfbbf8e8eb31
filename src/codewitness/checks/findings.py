"""What a check reports: :class:`Finding`, its stable fingerprint, and report order.

A fingerprint identifies a finding across unrelated edits: it hashes the rule, the file and the
whitespace-normalised text of the line (not its number), plus how many identical findings came
before it in the file. Baselines and SARIF ``partialFingerprints`` use it.

A finding names its code: the function around the flagged line (``module`` + ``qualname``) and,
on AI-written lines, the generations that wrote them (:class:`GenerationRef`: id, agent, model,
and the prompt by name/version and sha256 digest -- never its text, which may be long and
private, and which a report uploaded to code scanning or posted on a pull request would publish).

Example:
    >>> f = Finding("CW201", "app.py", 3, "no fetch_json", snippet="requests.fetch_json(u)")
    >>> [g.fingerprint[:8] for g in with_fingerprints([f])] == [with_fingerprints([f])[0].fingerprint[:8]]
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codewitness.checks.rules import SEVERITIES, Severity, rule

__all__ = ["Finding", "GenerationRef", "ordered", "with_fingerprints"]


@dataclass(frozen=True)
class GenerationRef:
    """One generation behind a flagged AI-written line, as far as it is known.

    Attributes:
        id: the generation id; ``None`` when only a commit mark (a trailer) says an agent wrote it.
        agent: the agent (``claude-code``, ``cursor``, ...), when known.
        model: the exact model string, when known.
        prompt_name: the managed prompt's name, when the prompt came from one.
        prompt_version: that prompt's version number in the ledger.
        prompt_sha256: the sha256 hex digest of the prompt text, when the ledger holds the
            generation (``codewitness generations show ID`` prints the text to whoever may read it).
    """

    id: str | None
    agent: str | None = None
    model: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    prompt_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``prompt`` is ``None`` when the ledger does not hold the generation)."""
        prompt = (
            {"name": self.prompt_name, "version": self.prompt_version, "sha256": self.prompt_sha256}
            if self.prompt_sha256 or self.prompt_name
            else None
        )
        return {"id": self.id, "agent": self.agent, "model": self.model, "prompt": prompt}

    def label(self) -> str:
        """One short line for people: ``gen_... (model, prompt name v2)``."""
        head = self.id or f"unrecorded {self.agent or 'agent'} edit"
        details = [d for d in (self.model, self.prompt_label()) if d]
        return f"{head} ({', '.join(details)})" if details else head

    def prompt_label(self) -> str | None:
        """``prompt NAME vN``, else ``prompt sha256:<12 hex>``, else ``None``."""
        if self.prompt_name:
            version = f" v{self.prompt_version}" if self.prompt_version is not None else ""
            return f"prompt {self.prompt_name}{version}"
        return f"prompt sha256:{self.prompt_sha256[:12]}" if self.prompt_sha256 else None


@dataclass(frozen=True)
class Finding:
    """One problem found at one place.

    Attributes:
        rule_id: the rule (see :mod:`codewitness.checks.rules`).
        path: the file, relative to the repository root, with ``/`` separators.
        line: 1-based line number (1 when the finding concerns a whole file or commit).
        message: what was found, specifically (names the package, attribute, ...).
        column: 1-based column, when known.
        severity: overrides the rule's default severity when set.
        ai_authored: True when attribution says an agent wrote the line, None when unknown.
        snippet: the source line, used for the fingerprint.
        properties: extra facts for machines (package verdicts, upstream rule codes, ...).
        fingerprint: set by :func:`with_fingerprints`.
        module: the importable module of the function around the line (with ``qualname``).
        qualname: that function's ``__qualname__`` (``Cart.total``), ``None`` outside any function.
        generations: on AI-written lines, the generations that wrote the flagged lines.
    """

    rule_id: str
    path: str
    line: int
    message: str
    column: int | None = None
    severity: Severity | None = None
    ai_authored: bool | None = None
    snippet: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    module: str | None = None
    qualname: str | None = None
    generations: tuple[GenerationRef, ...] = ()

    @property
    def level(self) -> Severity:
        """The effective severity."""
        return self.severity or rule(self.rule_id).severity

    @property
    def function(self) -> str | None:
        """``module.qualname`` of the function around the line (as the runtime sensor names it)."""
        return f"{self.module}.{self.qualname}" if self.module and self.qualname else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``--json`` output shape)."""
        return {
            "rule": self.rule_id,
            "name": rule(self.rule_id).name,
            "severity": self.level,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "ai_authored": self.ai_authored,
            "function": self.function,
            "module": self.module,
            "qualname": self.qualname,
            "generations": [g.to_dict() for g in self.generations],
            "fingerprint": self.fingerprint,
            "properties": dict(self.properties),
        }


def with_fingerprints(findings: Iterable[Finding]) -> list[Finding]:
    """Return the findings with :attr:`Finding.fingerprint` filled in, order kept."""
    seen: Counter[str] = Counter()
    out = []
    for f in findings:
        text = " ".join(f.snippet.split()) or f.message
        base = f"{f.rule_id}\0{f.path}\0{text}"
        seen[base] += 1
        digest = hashlib.sha256(f"{base}\0{seen[base]}".encode()).hexdigest()[:32]
        out.append(dataclasses.replace(f, fingerprint=digest))
    return out


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """AI-written lines first, then the most severe, then by place."""
    return sorted(
        findings,
        key=lambda f: (f.ai_authored is not True, -SEVERITIES.index(f.level), f.path, f.line, f.rule_id),
    )
