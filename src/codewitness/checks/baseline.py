"""Baseline files: findings a team has accepted, so that only new ones fail the gate.

A baseline is JSON: ``{"version": 1, "findings": [{"fingerprint", "rule", "path", "message"}, ...]}``.
Only the fingerprint matters for matching; the rest is there for people reading the file.

Example:
    >>> write_baseline(Path("/tmp/cw-baseline-doctest.json"), [])
    >>> read_baseline(Path("/tmp/cw-baseline-doctest.json"))
    frozenset()
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from codewitness.checks.findings import Finding
from codewitness.errors import InputError

__all__ = ["read_baseline", "write_baseline"]


def read_baseline(path: Path) -> frozenset[str]:
    """The accepted fingerprints in ``path``.

    Raises:
        InputError: the file is missing, not JSON, or not a baseline.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"baseline {path} does not exist; create it with --write-baseline {path}") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"baseline {path} cannot be read: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("findings"), list):
        raise InputError(f"{path} is not a codewitness baseline (expected version 1 and a findings list)")
    return frozenset(
        str(item["fingerprint"]) for item in data["findings"] if isinstance(item, dict) and "fingerprint" in item
    )


def write_baseline(path: Path, findings: Iterable[Finding]) -> None:
    """Accept ``findings``: write their fingerprints to ``path``."""
    rows = sorted(
        ({"fingerprint": f.fingerprint, "rule": f.rule_id, "path": f.path, "message": f.message} for f in findings),
        key=lambda r: (r["path"], r["rule"], r["fingerprint"]),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "findings": rows}, indent=1) + "\n", encoding="utf-8")
