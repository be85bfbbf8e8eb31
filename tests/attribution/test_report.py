"""The report: shares, risk inputs, call graph reachability and blast radius, on a small service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codewitness.attribution.callgraph import CallGraph
from codewitness.attribution.functions import module_facts
from codewitness.attribution.manifest import build_manifest, manifest_from_report, write_manifest
from codewitness.attribution.notes import NoteEntry
from codewitness.attribution.report import build_report
from codewitness.errors import InputError
from codewitness.model import Manifest

from .conftest import CLAUDE_TRAILER, Repo

APP = """\
from flask import Flask

from .logic import compute

app = Flask(__name__)


@app.get("/price")
def price_view():
    return str(compute(3))
"""

LOGIC = """\
def compute(x):
    total = 0
    for i in range(x):
        if i % 2:
            total += helper(i)
        elif i > 10:
            total -= 1
    return total


def helper(i):
    return i * 2


def unused(y):
    return y
"""

URLS = """\
from django.urls import path

from . import views

urlpatterns = [path("show/", views.show)]
"""

VIEWS = """\
from .logic import helper


def show(request):
    return helper(1)
"""

CLI = """\
import sys


def run():
    return 0


if __name__ == "__main__":
    sys.exit(run())
"""


@pytest.fixture
def service(repo: Repo) -> Repo:
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/app.py", APP)
    repo.write("pkg/urls.py", URLS)
    repo.write("pkg/views.py", VIEWS)
    repo.write("tool.py", CLI)
    repo.write("README.md", "# service\n\nhello\n")
    repo.commit("human scaffold")
    repo.write("pkg/logic.py", LOGIC)
    commit = repo.commit("agent logic" + CLAUDE_TRAILER)
    # compute() and unused() by the agent (lines 1-8, 15-16), helper() typed by a person.
    repo.note(
        commit,
        {"pkg/logic.py": [NoteEntry("ai", ((1, 8), (15, 16)), ("gen_c",), agent="claude-code", model="opus")]},
    )
    return repo


def test_report_shares_risk_and_blast_radius(service: Repo) -> None:
    report = build_report(service.root)
    functions = {f.ref.qualname: f for f in report.functions}
    assert functions["pkg.logic.compute"].ref.ai_share == 1.0
    assert functions["pkg.logic.helper"].ref.ai_share == 0.0
    assert functions["pkg.logic.unused"].ref.ai_share == 1.0
    # Entry points: a FastAPI/Flask route, a Django path(), a __main__ call.
    assert report.entry_points == {
        "pkg.app.price_view": "route",
        "pkg.views.show": "route",
        "tool.run": "main",
    }
    assert functions["pkg.logic.compute"].reached_from == ("pkg.app.price_view",)
    assert set(functions["pkg.logic.helper"].reached_from) == {"pkg.app.price_view", "pkg.views.show"}
    assert functions["pkg.logic.unused"].reached_from == ()
    assert report.blast_radius() == {"pkg.logic.compute": ["pkg.app.price_view"]}
    # compute() is complex and reachable, unused() trivial and unreachable; helper() not AI at all.
    assert functions["pkg.logic.compute"].complexity is not None and functions["pkg.logic.compute"].complexity >= 4
    ranked = [f.ref.qualname for f in report.ranked()]
    assert ranked == ["pkg.logic.compute", "pkg.logic.unused"]
    # Totals count non-blank lines: logic.py has 12, 10 of them the agent's.
    logic = report.modules["pkg/logic.py"]
    assert (logic.lines, logic.ai, logic.human) == (12, 10, 2)
    assert report.agents["claude-code"] == 10
    assert report.models["opus"] == 10
    assert report.evidence["note"] == 12
    assert report.packages["pkg"].ai == 10
    assert report.skipped["empty"] == 1  # pkg/__init__.py


def test_report_outputs(service: Repo, tmp_path: Path) -> None:
    report = build_report(service.root)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["risk_ranking"][0] == "pkg.logic.compute"
    assert data["limits"]
    md = report.to_markdown()
    assert "## Riskiest AI-written functions" in md
    assert "| pkg.logic.compute |" in md
    page = report.to_html()
    assert page.startswith("<!doctype html>") and "pkg.logic.compute" in page and "<script" not in page


def test_report_reads_coverage_data(service: Repo) -> None:
    coverage = pytest.importorskip("coverage")
    data = coverage.CoverageData(basename=str(service.root / ".coverage"))
    # Statements of compute() are lines 2-8; only 2, 3 and 8 ran.
    data.add_lines({str((service.root / "pkg/logic.py").resolve()): [1, 2, 3, 8]})
    data.write()
    report = build_report(service.root)
    functions = {f.ref.qualname: f for f in report.functions}
    assert functions["pkg.logic.compute"].coverage == pytest.approx(3 / 7)
    assert functions["pkg.logic.unused"].coverage == 0.0
    assert report.coverage_file == str(service.root / ".coverage")
    assert report.to_dict()["coverage_file"] == report.coverage_file


def test_report_rejects_a_missing_coverage_file_and_unknown_paths(service: Repo, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        build_report(service.root, coverage_file=tmp_path / "nope")
    with pytest.raises(InputError, match="no files under"):
        build_report(service.root, paths=["does/not/exist"])


def test_report_limited_to_a_folder_and_progress(service: Repo) -> None:
    seen: list[tuple[int, int]] = []
    report = build_report(service.root, paths=["pkg"], progress=lambda d, t: seen.append((d, t)))
    assert set(report.modules) == {"pkg/app.py", "pkg/urls.py", "pkg/views.py", "pkg/logic.py"}
    assert seen[-1] == (5, 5)


def test_unparseable_python_is_counted(repo: Repo) -> None:
    repo.write("broken.py", "def oops(:\n    pass\n")
    repo.commit("broken")
    report = build_report(repo.root)
    assert report.skipped["unparseable Python"] == 1
    assert report.totals.lines == 2


def test_manifest_lists_ai_functions(service: Repo, tmp_path: Path) -> None:
    manifest = build_manifest(service.root, min_share=0.5)
    names = [f.name for f in manifest.functions]
    assert names == ["pkg.logic.compute", "pkg.logic.unused"]
    assert manifest.functions[0].generation_ids == ("gen_c",)
    assert manifest.revision == service.head()
    target = tmp_path / "out" / "manifest.json"
    write_manifest(manifest, target)
    assert Manifest.from_json(target.read_text()).functions == manifest.functions
    report = build_report(service.root)
    assert len(manifest_from_report(report, min_share=0.0).functions) == 2
    with pytest.raises(InputError, match="between 0 and 1"):
        manifest_from_report(report, min_share=1.5)


def test_call_graph_resolution() -> None:
    graph = CallGraph()
    graph.add_module(
        "shop.cart",
        module_facts(
            "from shop import tax as t\n"
            "class Cart:\n"
            "    def __init__(self):\n        self.items = []\n"
            "    def total(self):\n        return self.sub() + t.vat(1)\n"
            "    def sub(self):\n        return 1\n"
            "def make():\n    return Cart()\n",
            "shop.cart",
        ),
    )
    graph.add_module("shop.tax", module_facts("def vat(x):\n    return x\n", "shop.tax"))
    graph.add_module(
        "shop.typer_cli",
        module_facts(
            "from shop.cart import make\n"
            'def register(app):\n    app.command("go")(go)\n\ndef go():\n    return make()\n'
        ),
    )
    graph.add_module(
        "shop.cli",
        module_facts("import click\n@click.command()\ndef main_cmd():\n    from shop.cart import make\n    make()\n"),
    )
    edges = graph.edges()
    assert edges["shop.cart.Cart.total"] == {"shop.cart.Cart.sub", "shop.tax.vat"}
    assert edges["shop.cart.make"] == {"shop.cart.Cart.__init__"}
    assert graph.entry_points() == {"shop.cli.main_cmd": "cli", "shop.typer_cli.go": "cli"}
    reached = graph.reached_from()
    assert reached["shop.cart.Cart.__init__"] == ("shop.cli.main_cmd", "shop.typer_cli.go")
    assert "shop.tax.vat" not in reached  # total() is never called from an entry point
