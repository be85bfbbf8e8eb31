"""SARIF 2.1.0 output, as GitHub code scanning reads it.

Paths are relative to the repository root (``uriBaseId`` ``%SRCROOT%``); each result carries
``partialFingerprints`` (our line-independent fingerprint) and an ``ai_authored`` property; the
driver lists every rule of :data:`~codewitness.checks.rules.RULES` with its help text.

A finding inside a function names it as a ``logicalLocations`` entry (``kind`` ``function``,
``fullyQualifiedName`` ``module.qualname``, as the runtime sensor names it); on AI-written lines
the properties carry ``generation_ids``, ``models`` and ``generations`` (id, agent, model, prompt
name/version/sha256 -- the prompt's text never leaves the ledger).

Example:
    >>> doc = to_sarif([])
    >>> doc["version"], doc["runs"][0]["tool"]["driver"]["name"]
    ('2.1.0', 'codewitness')
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from codewitness._version import __version__
from codewitness.checks.findings import Finding
from codewitness.checks.rules import RULES

__all__ = ["SARIF_SCHEMA", "to_sarif"]

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {"info": "note", "low": "note", "medium": "warning", "high": "error"}
#: GitHub's security-severity scale (0-10) for our severities.
_SECURITY_SEVERITY = {"info": "1.0", "low": "3.0", "medium": "5.5", "high": "8.0"}


def to_sarif(findings: Iterable[Finding]) -> dict[str, Any]:
    """One SARIF log with one run holding ``findings``."""
    index = {r.id: i for i, r in enumerate(RULES)}
    results = []
    for f in findings:
        region: dict[str, Any] = {"startLine": max(f.line, 1)}
        if f.column:
            region["startColumn"] = f.column
        location: dict[str, Any] = {
            "physicalLocation": {
                "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                "region": region,
            }
        }
        if f.function and f.qualname:
            location["logicalLocations"] = [
                {"name": f.qualname.rsplit(".", 1)[-1], "fullyQualifiedName": f.function, "kind": "function"}
            ]
        properties: dict[str, Any] = {"ai_authored": f.ai_authored, "severity": f.level, **_plain(f.properties)}
        if f.generations:
            properties["generation_ids"] = [g.id for g in f.generations if g.id]
            properties["models"] = sorted({g.model for g in f.generations if g.model})
            properties["generations"] = [g.to_dict() for g in f.generations]
        results.append(
            {
                "ruleId": f.rule_id,
                "ruleIndex": index[f.rule_id],
                "level": _LEVEL[f.level],
                "message": {"text": f.message},
                "locations": [location],
                "partialFingerprints": {"codewitness/v1": f.fingerprint},
                "properties": properties,
            }
        )
    rules = [
        {
            "id": r.id,
            "name": r.name,
            "shortDescription": {"text": r.short},
            "fullDescription": {"text": r.short},
            "help": {"text": r.help, "markdown": r.help},
            "defaultConfiguration": {"level": _LEVEL[r.severity]},
            "properties": {
                "family": r.family,
                "tags": sorted({r.family, "security"} if r.family in ("security", "deps") else {r.family}),
                "security-severity": _SECURITY_SEVERITY[r.severity],
            },
        }
        for r in RULES
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "codewitness",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://pypi.org/project/codewitness/",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root."}}},
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def _plain(props: Any) -> dict[str, Any]:
    """Properties as plain JSON values (SARIF property bags hold any JSON)."""
    import json

    out: dict[str, Any] = json.loads(json.dumps(dict(props), default=str))
    return out
