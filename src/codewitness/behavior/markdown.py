"""A replay or baseline check as Markdown, for a pull-request comment.

One table of functions and their counts, then one collapsed section per function that behaves
differently: each shown input with both outcomes, where they differ, and who changed the code
(generation, model, prompt version; never the prompt's text). Values are data, written as code
spans, never read as Markdown.

Example:
    >>> print(to_markdown(report).splitlines()[0])  # doctest: +SKIP
    ### codewitness replay: 1 of 2 functions behave differently against `v1 (3f2a1b0c9d)`
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codewitness.behavior.baseline import CheckResult
    from codewitness.behavior.replay import FunctionReport, InputResult, ReplayReport

__all__ = ["check_markdown", "to_markdown"]


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").splitlines())


def _code(text: str) -> str:
    return _cell("`" + text.replace("`", "'") + "`")


def _table(report: ReplayReport) -> list[str]:
    lines = [
        "| function | replayed | equal | differing | non-deterministic | errors | not replayable |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in report.functions:
        if f.excluded:
            lines.append(f"| {_code(f.function)} | excluded: {_cell(f.excluded)} | | | | | |")
            continue
        mark = "🔴 " if f.differing else "🟡 " if f.nondeterministic else ""
        lines.append(
            f"| {mark}{_code(f.function)} | {f.replayed} | {f.equal} | {f.differing} | {f.nondeterministic} "
            f"| {f.error_count} | {f.not_replayable_count} |"
        )
    return lines


def _example(result: InputResult, old_label: str, new_label: str) -> list[str]:
    from codewitness.behavior.values import outcome_text

    lines = [f"**Input** {_code(_input(result))}", "", "| side | outcome |", "|---|---|"]
    if result.old:
        lines.append(f"| {_cell(old_label)} | {_code(outcome_text(result.old[0]))} |")
    lines.append(f"| {_cell(new_label)} | {_code(outcome_text(result.new[0]))} |")
    lines.append("")
    for d in result.differences[:5]:
        lines.append(f"- {_code(d.path)}: {_code(d.old)} → {_code(d.new)}")
    lines.append("")
    return lines


def _input(result: InputResult) -> str:
    from codewitness.behavior.replay import input_text

    return input_text(result.case.input)


def _section(f: FunctionReport, old_label: str, new_label: str) -> list[str]:
    lines = [f"<details><summary>{_code(f.function)}: {f.differing} differing input(s)</summary>", ""]
    for example in f.examples:
        lines += _example(example, old_label, new_label)
    changed = f.changed
    if changed is not None:
        if changed.generations:
            authors = ", ".join(_code(g.text()) for g in changed.generations)
            lines.append(f"Changed by {authors}" + ("; a person edited it too" if changed.human_edited else "") + ".")
        elif changed.human_edited:
            lines.append("Changed by a person (no AI generation on the changed lines).")
        if changed.uncommitted:
            lines.append("The working tree has uncommitted changes to this file (not attributed).")
        lines.append("")
    lines += ["</details>", ""]
    return lines


def to_markdown(report: ReplayReport) -> str:
    """The report as a Markdown comment."""
    old_label = report.old.label if report.old is not None else "pinned"
    differing = [f for f in report.functions if f.differing]
    if report.mode == "same-rev":
        flaky = sum(1 for f in report.functions if f.nondeterministic)
        title = f"### codewitness replay --same-rev: {flaky} of {len(report.functions)} function(s) non-deterministic"
    else:
        title = (
            f"### codewitness replay: {len(differing)} of {len(report.functions)} function(s) behave differently "
            f"against {_code(old_label)}"
        )
    lines = [title, "", *_table(report), ""]
    for f in differing:
        lines += _section(f, old_label, report.new.label)
    flaky_functions = [f for f in report.functions if f.nondeterministic]
    if flaky_functions:
        names = ", ".join(_code(f.function) for f in flaky_functions)
        lines.append(f"Non-deterministic (left out of the verdict): {names}.")
        lines.append("")
    for note in report.notes:
        lines.append(f"_{_cell(note)}_")
    return "\n".join(lines).rstrip() + "\n"


def check_markdown(result: CheckResult) -> str:
    """A baseline check as a Markdown comment."""
    verdict = "🔴 alarm" if result.alarm else "✅ within the threshold"
    head = (
        f"### codewitness baseline check {_code(result.baseline['name'])}: {verdict} "
        f"({result.report.total('differing')} of {result.compared} inputs differ, "
        f"{result.share:.1%}; threshold {result.threshold:.1%})"
    )
    body = to_markdown(result.report).split("\n", 1)[1]
    return head + "\n" + body
