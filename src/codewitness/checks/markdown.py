"""A markdown report of a check run, for a pull-request comment.

Each row names the function around the finding and, on AI-written lines, the generations that
wrote them (id, model, prompt name/version or digest; never the prompt's text).

Example:
    >>> print(to_markdown(Report(findings=[])).splitlines()[0])
    ### codewitness check: no findings
"""

from __future__ import annotations

from codewitness.checks.findings import Finding
from codewitness.checks.rules import rule
from codewitness.checks.runner import Report

__all__ = ["to_markdown"]

_ICON = {"high": "🔴", "medium": "🟠", "low": "🟡", "info": "⚪"}
_LIMIT = 200


def _cell(text: str) -> str:
    # Every line break Python knows (\r, \u2028, ...) becomes a space: one finding, one table row.
    return " ".join(text.replace("|", "\\|").splitlines())


def _code(text: str) -> str:
    """``text`` as an inline code span (names from notes are data, never markdown)."""
    return _cell("`" + text.replace("`", "'") + "`")


def _where(f: Finding) -> str:
    where = _code(f"{f.path}:{f.line}")
    return f"{where} in {_code(f.qualname + '()')}" if f.qualname else where


def _ai(f: Finding) -> str:
    if not f.ai_authored:
        return ""
    if not f.generations:
        return "yes"
    labels = []
    for g in f.generations:
        head = _code(g.id) if g.id else f"unrecorded {_code(g.agent or 'agent')} edit"
        details = [_code(d) for d in (g.model, g.prompt_label()) if d]
        labels.append(f"{head} ({', '.join(details)})" if details else head)
    return "yes: " + "; ".join(labels)


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
                f"| {_ICON[f.level]} | `{f.rule_id}` {rule(f.rule_id).name} | {_where(f)} "
                f"| {_cell(f.message)} | {_ai(f)} |"
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
