"""Every rule the merge gate knows, in one table.

Rule ids are stable: ``CW1xx`` dependencies, ``CW2xx`` APIs that do not exist, ``CW3xx`` security,
``CW4xx`` provenance, ``CW5xx`` complexity. SARIF output, the markdown report and the docs are
all generated from :data:`RULES`; a rule that is not in the table cannot be reported.

Example:
    >>> rule("CW101").severity
    'high'
    >>> severity_at_least("medium", "high")
    False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["RULES", "SEVERITIES", "Rule", "Severity", "rule", "severity_at_least"]

Severity = Literal["info", "low", "medium", "high"]
#: Severities from weakest to strongest; ``--fail-on`` compares positions in this tuple.
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high")


@dataclass(frozen=True)
class Rule:
    """One check rule.

    Attributes:
        id: the stable id, e.g. ``CW101``.
        family: ``deps``, ``apis``, ``security``, ``provenance`` or ``complexity``.
        name: a short kebab-case name.
        severity: the default severity of its findings.
        short: one line saying what was found.
        help: what to do about it.
    """

    id: str
    family: str
    name: str
    severity: Severity
    short: str
    help: str


RULES: tuple[Rule, ...] = (
    # -- dependencies ----------------------------------------------------------------------------
    Rule(
        "CW101",
        "deps",
        "package-not-found",
        "high",
        "A declared or imported package does not exist on the package index.",
        "AI agents invent package names. Check the spelling; if the name was suggested by an agent, "
        "find the real package that provides what you need before anyone registers this name.",
    ),
    Rule(
        "CW102",
        "deps",
        "package-too-new",
        "medium",
        "The package was first uploaded only recently.",
        "New packages with names an agent suggested are a common supply-chain trap. Check the "
        "project's source, maintainers and history before depending on it.",
    ),
    Rule(
        "CW103",
        "deps",
        "package-single-version",
        "low",
        "The package has only one version on the index.",
        "A project with a single release is often abandoned or a placeholder. Confirm it is the one you meant.",
    ),
    Rule(
        "CW104",
        "deps",
        "package-status",
        "high",
        "The index marks the package quarantined, archived or deprecated, or every file is yanked.",
        "Quarantined projects are unsafe (e.g. malware); archived and deprecated ones receive no fixes. "
        "Choose a maintained alternative.",
    ),
    Rule(
        "CW105",
        "deps",
        "package-typosquat",
        "high",
        "The package name is one edit away from a popular package.",
        "Typosquats imitate popular names with a repeated, omitted or swapped character or separator. "
        "Use the popular package unless you are sure this one is intended.",
    ),
    Rule(
        "CW106",
        "deps",
        "import-undeclared",
        "medium",
        "Code imports a module that no declared dependency provides.",
        "Declare the distribution that provides the module in pyproject.toml or requirements, or remove "
        "the import. Agents often import packages that are neither installed nor real.",
    ),
    Rule(
        "CW107",
        "deps",
        "package-not-checked",
        "info",
        "The package could not be checked: the index was unreachable or the cache is empty offline.",
        "This is not a clean result. Run the check again with network access to the index.",
    ),
    Rule(
        "CW108",
        "deps",
        "package-vulnerable",
        "high",
        "The pinned version has a known vulnerability.",
        "Upgrade to a version the advisory lists as fixed.",
    ),
    # -- APIs that do not exist --------------------------------------------------------------------
    Rule(
        "CW201",
        "apis",
        "attribute-not-found",
        "high",
        "The code uses a module attribute that the installed module does not define.",
        "Hallucinated APIs look plausible (requests.fetch_json, json.parse). Look the function up in the "
        "library's documentation and call what exists.",
    ),
    Rule(
        "CW202",
        "apis",
        "import-name-not-found",
        "high",
        "`from module import name` names something the installed module does not define.",
        "Check the library's documentation for the right name or module.",
    ),
    Rule(
        "CW203",
        "apis",
        "submodule-not-found",
        "high",
        "The code imports a submodule that the installed package does not have.",
        "Check the package layout; the submodule may have been renamed or never existed.",
    ),
    # -- security ----------------------------------------------------------------------------------
    Rule(
        "CW301",
        "security",
        "ruff-security",
        "medium",
        "ruff's flake8-bandit (S) rules found a security problem.",
        "See the ruff rule named in the message for details and the fix.",
    ),
    Rule(
        "CW302",
        "security",
        "secret-in-source",
        "high",
        "A secret (key, token, private key) appears in the source.",
        "Remove it, rotate it, and read it from the environment or a secret store.",
    ),
    Rule(
        "CW303",
        "security",
        "handler-without-auth",
        "medium",
        "A web handler that changes state has no visible authentication or authorization check.",
        "Add the framework's auth dependency or decorator (Depends/Security, login_required, "
        "permission checks), or mark the endpoint as intentionally public.",
    ),
    Rule(
        "CW304",
        "security",
        "logs-secret",
        "high",
        "A secret or a whole request object is logged or printed.",
        "Log identifiers, not credentials or whole requests; redact before logging.",
    ),
    Rule(
        "CW305",
        "security",
        "exception-swallowed",
        "medium",
        "A broad exception handler hides every error behind pass, continue or returning a constant.",
        "Catch the specific exception, log it with logger.exception, or let it propagate. If hiding every "
        "error is deliberate, say so with `# codewitness: ignore[CW305]` and the reason.",
    ),
    Rule(
        "CW306",
        "security",
        "placeholder-credential",
        "medium",
        "A placeholder credential (changeme, your-api-key-here, sk-xxxx) is in the code.",
        "Read real credentials from configuration; never ship placeholders that may be accepted.",
    ),
    Rule(
        "CW307",
        "security",
        "http-without-timeout",
        "medium",
        "An outbound network call has no timeout.",
        "Pass a timeout so a slow peer cannot hang the process. Agents often leave it out: on AI-written lines "
        "this finding is high and fails the gate by default (check.high_on_ai).",
    ),
    Rule(
        "CW308",
        "security",
        "unseeded-random",
        "low",
        "Business logic uses the global unseeded random generator.",
        "Use random.Random(seed) for reproducible logic, or the secrets module for tokens. A warning, also on "
        "AI-written lines, unless check.high_on_ai names CW308.",
    ),
    Rule(
        "CW309",
        "security",
        "set-iteration-order",
        "low",
        "Output order depends on set iteration order, which varies between runs.",
        "Wrap the set in sorted() before turning it into a list, a string or a loop with side effects.",
    ),
    Rule(
        "CW310",
        "security",
        "sql-built-from-values",
        "medium",
        "SQL text is built from values by string formatting (high: a value inside a quoted SQL literal, or "
        "read straight from the request).",
        "Pass values as query parameters (?, %s, :name). Identifiers that must be formatted in go through the "
        "driver's quoting or an escaping helper; constants, numbers and placeholders are not reported.",
    ),
    # -- provenance --------------------------------------------------------------------------------
    Rule(
        "CW401",
        "provenance",
        "ai-commit-without-record",
        "medium",
        "A commit carries agent marks but no codewitness or git-ai attribution note.",
        "Install the codewitness agent hooks so AI edits are recorded, or add the note with "
        "`codewitness` attribution commands.",
    ),
    Rule(
        "CW402",
        "provenance",
        "missing-required-metadata",
        "medium",
        "AI-attributed lines lack metadata the project's policy requires.",
        "Configure the agent hooks to record it; the policy is check.required_metadata.",
    ),
    Rule(
        "CW403",
        "provenance",
        "corrupt-note",
        "medium",
        "A commit's codewitness note cannot be read.",
        "Rewrite the note; a corrupt note hides who wrote the commit.",
    ),
    Rule(
        "CW404",
        "provenance",
        "generation-trailer-mismatch",
        "medium",
        "A commit's Codewitness-Generation trailers and its attribution note disagree, or one is missing.",
        "With capture.commit_trailer on, the prepare-commit-msg hook names every staged generation and the "
        "post-commit hook writes the note: fetch the notes (refs/notes/codewitness) if the note is missing, "
        "and check that the hooks ran (`codewitness status`).",
    ),
    # -- complexity drift --------------------------------------------------------------------------
    Rule(
        "CW501",
        "complexity",
        "complexity-drift",
        "medium",
        "An AI-written function's cognitive complexity grew beyond the allowed share since the base.",
        "Split the function or simplify its branches; the threshold is check.complexity_growth.",
    ),
)

_BY_ID = {r.id: r for r in RULES}


def rule(rule_id: str) -> Rule:
    """The rule with id ``rule_id``.

    Raises:
        KeyError: no such rule (a programming error: every reported id must be in :data:`RULES`).
    """
    return _BY_ID[rule_id]


def severity_at_least(severity: str, threshold: str) -> bool:
    """True when ``severity`` is at or above ``threshold`` in :data:`SEVERITIES`."""
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)
