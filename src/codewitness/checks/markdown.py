"""A markdown report of a check run, for a pull-request comment.

Example:
    >>> print(to_markdown(Report(findings=[])).splitlines()[0])
    ### codewitness check: no findings
"""

from __future__ import annotations

from codewitness.checks.rules import rule
from codewitness.checks.runner import Report

__all__ = ["to_markdown"]

_ICON = {"high": "🔴", "medium": "🟠", "low": "🟡", "info": "⚪"}
_LIMIT = 200


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    """The report as GitHub-flavoured markdown: a summary line, then one table row per finding."""
    if not report.findings:
        lines = ["### codewitness check: no findings", ""]
    else:
        counts = report.counts()
        summary = ", ".join(f"{counts[s]} {s}" for s in ("high", "medium", "low", "info") if s in counts)
        ai = sum(1 for f in report.findings if f.ai_authored)
        lines = [f"### codewitness check: {len(report.findings)} finding(s) ({summary})", ""]
        if ai:
            lines += [f"{ai} on AI-written lines, listed first.", ""]
        lines += ["| | rule | where | finding | AI |", "|---|---|---|---|---|"]
        for f in report.findings[:_LIMIT]:
            lines.append(
                f"| {_ICON[f.level]} | `{f.rule_id}` {rule(f.rule_id).name} | `{_cell(f.path)}:{f.line}` "
                f"| {_cell(f.message)} | {'yes' if f.ai_authored else ''} |"
            )
        if len(report.findings) > _LIMIT:
            lines.append(f"\n… and {len(report.findings) - _LIMIT} more (see the SARIF or JSON output).")
        lines.append("")
    if report.baselined:
        lines.append(f"{len(report.baselined)} finding(s) accepted by the baseline are not shown.")
    if report.skipped:
        lines.append(
            f"{len(report.skipped)} file(s) could not be checked: "
            + ", ".join(f"`{p}` ({why})" for p, why in report.skipped[:10])
        )
    not_checked = [f for f in report.findings if f.rule_id == "CW107"]
    if not_checked:
        lines.append(
            f"{len(not_checked)} package(s) were **not checked** (index unreachable): this is not a clean result."
        )
    return "\n".join(lines).rstrip() + "\n"
