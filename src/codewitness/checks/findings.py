"""What a check reports: :class:`Finding`, its stable fingerprint, and report order.

A fingerprint identifies a finding across unrelated edits: it hashes the rule, the file and the
whitespace-normalised text of the line (not its number), plus how many identical findings came
before it in the file. Baselines and SARIF ``partialFingerprints`` use it.

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

__all__ = ["Finding", "ordered", "with_fingerprints"]


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

    @property
    def level(self) -> Severity:
        """The effective severity."""
        return self.severity or rule(self.rule_id).severity

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
