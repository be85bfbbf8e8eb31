"""Human edit share: one definition, the same for functions, modules, packages and the repository.

A repository is built with agent lines (codewitness notes, one entry ``mixed``) that a person
later edits; the report's figures at every level are checked against the definition computed
here directly from the blamed lines, and against numbers worked out by hand.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.attribution.blame import Attributor, LineAttribution
from codewitness.attribution.functions import FunctionSpan, edited_lines, function_spans
from codewitness.attribution.notes import NoteEntry, compact_lines
from codewitness.attribution.report import build_report
from codewitness.model import Origin

from .conftest import Repo

A_HUMAN = "CONST = 1\n\n\ndef base(x):\n    y = x + 1\n    return y\n"
A_AGENT = """\
CONST = 1
LIMIT = 10  # ai


def base(x):
    y = x + 1
    return y


def made(x):  # ai
    total = 0  # ai
    for i in range(x):  # ai
        total += i  # ai

    def inner(v):  # ai
        return v * 2  # ai

    return inner(total)  # ai
"""
B_AGENT = """\
class Store:  # ai
    def get(self, k):  # ai
        value = self.d[k]  # ai
        return value  # ai
"""
README_AGENT = "one  # ai\ntwo  # ai\nthree  # ai\n"


def _ai_lines(text: str) -> tuple[tuple[int, int], ...]:
    return compact_lines(n for n, line in enumerate(text.splitlines(), 1) if line.endswith("# ai"))


def _build(repo: Repo) -> None:
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/sub/__init__.py", "")
    repo.write("pkg/a.py", A_HUMAN)
    repo.commit("human start")
    repo.write("pkg/a.py", A_AGENT)
    repo.write("pkg/sub/b.py", B_AGENT)
    repo.write("README.txt", README_AGENT)
    agent = repo.commit("agent work")
    repo.note(
        agent,
        {
            path: [NoteEntry("ai", _ai_lines(text), ("gen_1",), agent="claude-code")]
            for path, text in (("pkg/a.py", A_AGENT), ("pkg/sub/b.py", B_AGENT), ("README.txt", README_AGENT))
        },
    )
    # A person edits: a module-level line added, a human function changed (not an edit of AI code),
    # one line of made() and one of its nested inner(), one line of Store.get, one README line.
    edited_a = (
        A_AGENT.replace("LIMIT = 10  # ai\n", "LIMIT = 10  # ai\nEXTRA = 3\n")
        .replace("y = x + 1", "y = x + 2")
        .replace("total = 0  # ai", "total = 1")
        .replace("return v * 2  # ai", "return v * 3")
    )
    repo.write("pkg/a.py", edited_a)
    repo.write("pkg/sub/b.py", B_AGENT.replace("value = self.d[k]  # ai", "value = self.d.get(k)"))
    repo.write("README.txt", README_AGENT.replace("two  # ai", "two, edited"))
    repo.commit("human review")
    # An agent adds a method a person changed before committing: mixed lines.
    repo.write(
        "pkg/sub/b.py", (repo.root / "pkg/sub/b.py").read_text() + "\n    def put(self, k, v):\n        self.d[k] = v\n"
    )
    later = repo.commit("agent put")
    repo.note(later, {"pkg/sub/b.py": [NoteEntry("mixed", ((6, 7),), ("gen_2",), agent="claude-code")]})


def _definition(lines: tuple[LineAttribution, ...], spans: list[FunctionSpan], times: dict[str, int]) -> set[int]:
    """The documented definition, written out plainly: which lines are human edits of AI code."""

    def unit(number: int) -> tuple[int, int] | None:
        around = [(s.start_line, s.end_line) for s in spans if s.start_line <= number <= s.end_line]
        return min(around, key=lambda se: se[1] - se[0]) if around else None

    oldest: dict[tuple[int, int] | None, int] = {}
    for number, line in enumerate(lines, 1):
        if line.text.strip() and line.origin.kind in ("ai", "mixed"):
            key = unit(number)
            oldest[key] = min(oldest.get(key, times[line.commit]), times[line.commit])
    edited = set()
    for number, line in enumerate(lines, 1):
        if not line.text.strip():
            continue
        anchor = oldest.get(unit(number))
        if line.origin.kind == "mixed" or (
            line.origin.kind == "human" and anchor is not None and times[line.commit] > anchor
        ):
            edited.add(number)
    return edited


def _share(edited: set[int], lines: tuple[LineAttribution, ...], first: int = 1, last: int | None = None) -> Fraction:
    span = range(first, (last or len(lines)) + 1)
    counted = [n for n in span if lines[n - 1].text.strip()]
    return Fraction(len([n for n in counted if n in edited]), len(counted))


def test_human_edit_share_is_one_definition_at_every_level(repo: Repo) -> None:
    _build(repo)
    report = build_report(repo.root)

    # The definition, computed here from the blamed lines, for every level.
    per_file: dict[str, tuple[set[int], tuple[LineAttribution, ...]]] = {}
    with Attributor(repo.root) as engine:
        for path in ("pkg/a.py", "pkg/sub/b.py", "README.txt"):
            lines = engine.attribute_path(path).lines
            spans = function_spans("\n".join(ln.text for ln in lines)) if path.endswith(".py") else []
            per_file[path] = (_definition(lines, spans, engine.commit_times()), lines)
    for function in report.functions:
        edited, lines = per_file[function.ref.path]
        expected = _share(edited, lines, function.ref.start_line, function.ref.end_line)
        assert function.ref.human_edit_share == float(expected), function.ref.qualname
    folders: dict[str, list[str]] = defaultdict(list)
    for path, (edited, lines) in per_file.items():
        assert report.modules[path].human_edit_share == float(_share(edited, lines)), path
        folders[path.rsplit("/", 1)[0] if "/" in path else "."].append(path)

    def pooled(paths: list[str]) -> float:
        edited = sum(len(per_file[p][0]) for p in paths)
        counted = sum(1 for p in paths for ln in per_file[p][1] if ln.text.strip())
        return edited / counted

    for folder, paths in folders.items():
        assert report.packages[folder].human_edit_share == pooled(paths), folder
    assert report.totals.human_edit_share == pooled(list(per_file))

    # And the numbers worked out by hand (see the edits in _build).
    functions = {f.ref.qualname: f.ref.human_edit_share for f in report.functions}
    assert functions["pkg.a.base"] == 0.0  # a person changed a person's function: no AI code edited
    assert functions["pkg.a.made"] == 2 / 7  # total = 1, and inner's return
    assert functions["pkg.a.made.<locals>.inner"] == 1 / 2
    assert functions["pkg.sub.b.Store.get"] == 1 / 3
    assert functions["pkg.sub.b.Store.put"] == 1.0  # mixed lines
    assert report.modules["pkg/a.py"].human_edit_share == 3 / 13  # EXTRA, total = 1, return v * 3
    assert report.modules["pkg/sub/b.py"].human_edit_share == 3 / 6
    assert report.modules["README.txt"].human_edit_share == 1 / 3  # a file without functions is one unit
    assert report.packages["pkg"].human_edit_share == 3 / 13
    assert report.totals.human_edit_share == 7 / 22
    assert report.totals.edited == 7
    assert report.to_dict()["totals"]["human_edited"] == 7


@st.composite
def _files(draw: st.DrawFn) -> tuple[tuple[LineAttribution, ...], list[FunctionSpan], dict[str, int]]:
    """Lines of random origin and commit, and properly nested function spans over them."""
    size = draw(st.integers(1, 40))
    commits = {f"c{i}": draw(st.integers(0, 5)) for i in range(4)}
    lines = tuple(
        LineAttribution(
            n,
            draw(st.sampled_from(["x = 1", "", "  y"])),
            draw(st.sampled_from(sorted(commits))),
            "",
            "f.py",
            n,
            Origin(draw(st.sampled_from(["ai", "mixed", "human", "unknown"])), "note", 1.0),
        )
        for n in range(1, size + 1)
    )
    spans: list[FunctionSpan] = []

    def nest(first: int, last: int, depth: int) -> None:
        start = first
        while start <= last and depth < 3 and draw(st.booleans()):
            end = draw(st.integers(start, last))
            spans.append(FunctionSpan(f"f{len(spans)}", start, start, end))
            nest(start + 1, end, depth + 1)
            start = end + 1

    nest(1, size, 0)
    return lines, spans, commits


@settings(max_examples=200, deadline=None)
@given(_files())
def test_generated_files_edited_lines_follow_the_definition(
    case: tuple[tuple[LineAttribution, ...], list[FunctionSpan], dict[str, int]],
) -> None:
    lines, spans, times = case
    assert edited_lines(lines, spans, times) == _definition(lines, spans, times)
