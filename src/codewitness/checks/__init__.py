"""The merge gate: checks that tell whether a change (often an AI-written one) is safe to merge.

Families, one module each with the same entry point ``run(ctx) -> list[Finding]``:
:mod:`~codewitness.checks.deps` (CW1xx), :mod:`~codewitness.checks.apis` (CW2xx),
:mod:`~codewitness.checks.security` (CW3xx), :mod:`~codewitness.checks.provenance` (CW4xx),
:mod:`~codewitness.checks.complexity` (CW5xx). Rules live in :mod:`~codewitness.checks.rules`.
Heavy libraries (ruff, detect-secrets, rapidfuzz, packaging, complexipy) come with the
``check`` extra and are imported only by the family that needs them.

Example:
    >>> from pathlib import Path
    >>> from codewitness.checks import CheckContext, run_checks
    >>> report = run_checks(CheckContext.build(Path("src")), families=("apis",))  # doctest: +SKIP
"""

from __future__ import annotations

from codewitness.checks.context import CheckContext
from codewitness.checks.findings import Finding
from codewitness.checks.runner import FAMILIES, Report, run_checks

__all__ = ["FAMILIES", "CheckContext", "Finding", "Report", "run_checks"]
