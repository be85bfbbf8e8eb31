"""Function spans from the AST and the roll-up of their lines' origins."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.attribution.blame import Attributor
from codewitness.attribution.functions import (
    ModuleFacts,
    edited_lines,
    function_spans,
    module_facts,
    module_name,
    rollup,
)
from codewitness.attribution.notes import NoteEntry

from .conftest import Repo

SOURCE = """\
import functools


def plain(a):
    return a


@functools.cache
@staticmethod
def decorated(b):
    return b


class Cart:
    def total(self):
        def add(x, y):
            return x + y
        return add(1, 2)

    async def fetch(self):
        return await self.other()

    class Inner:
        def deep(self):
            pass


async def runner():
    async def step():
        return 1
    return await step()
"""


def test_spans_cover_methods_nested_async_and_decorators() -> None:
    spans = {s.qualname: s for s in function_spans(SOURCE)}
    assert list(spans) == [
        "plain",
        "decorated",
        "Cart.total",
        "Cart.total.<locals>.add",
        "Cart.fetch",
        "Cart.Inner.deep",
        "runner",
        "runner.<locals>.step",
    ]
    assert (spans["decorated"].start_line, spans["decorated"].def_line, spans["decorated"].end_line) == (
        8,
        10,
        11,
    )
    assert spans["decorated"].decorators == ("functools.cache", "staticmethod")
    assert spans["Cart.fetch"].is_async and spans["runner.<locals>.step"].is_async
    assert not spans["Cart.total"].is_async
    assert (spans["Cart.total"].start_line, spans["Cart.total"].end_line) == (15, 18)
    assert "self.other" in spans["Cart.fetch"].calls
    assert "add" in spans["Cart.total"].calls


def test_spans_match_python_qualnames() -> None:
    namespace: dict[str, object] = {}
    exec(compile(SOURCE, "<src>", "exec"), namespace)  # our own fixed source
    cart = namespace["Cart"]
    assert cart.total.__qualname__ in {s.qualname for s in function_spans(SOURCE)}  # type: ignore[attr-defined]
    assert cart.Inner.deep.__qualname__ == "Cart.Inner.deep"  # type: ignore[attr-defined]


def test_module_facts_round_trip_and_imports() -> None:
    source = "import os.path\nimport numpy as np\nfrom . import sibling\nfrom ..up import thing as t\n"
    facts = module_facts(source + SOURCE, "pkg.sub.mod")
    assert facts.imports["os"] == "os"
    assert facts.imports["np"] == "numpy"
    assert facts.imports["sibling"] == "pkg.sub.sibling"
    assert facts.imports["t"] == "pkg.up.thing"
    assert ModuleFacts.from_dict(facts.to_dict()) == facts


def test_module_name_follows_packages() -> None:
    tree = {"src/shop/__init__.py", "src/shop/pricing.py", "src/shop/api/__init__.py", "tool.py"}
    assert module_name("src/shop/pricing.py", tree) == "shop.pricing"
    assert module_name("src/shop/api/__init__.py", tree) == "shop.api"
    assert module_name("tool.py", tree) == "tool"
    assert module_name("scripts/run.py", tree) == "run"


def test_three_quarters_ai_function_rolls_up_to_075(repo: Repo) -> None:
    human = "def price(items):\n    total = 0\n"
    repo.write("shop.py", human)
    repo.commit("human start")
    full = human + "    for item in items:\n        total += item\n    return total\n\n\ndef other():\n    return 1\n"
    repo.write("shop.py", full)
    commit = repo.commit("agent loop")
    # The agent wrote lines 3-5 of price() and all of other().
    repo.note(commit, {"shop.py": [NoteEntry("ai", ((3, 5), (8, 9)), ("gen_1",), agent="codex", model="gpt-5")]})
    # A person drops one human line: price() keeps 4 lines, 3 of them the agent's.
    repo.write("shop.py", full.replace("    total = 0\n", ""))
    repo.commit("tidy")
    with Attributor(repo.root) as engine:
        fa = engine.attribute_path("shop.py")
        times = engine.commit_times()
    spans = {s.qualname: s for s in function_spans("\n".join(ln.text for ln in fa.lines))}
    edited = edited_lines(fa.lines, list(spans.values()), times)
    ref = rollup("shop", "shop.py", spans["price"], fa.lines, edited)
    assert ref.qualname == "shop.price"
    assert ref.ai_share == 0.75
    assert ref.generation_ids == ("gen_1",)
    assert ref.models == ("gpt-5",)
    assert ref.agents == ("codex",)
    # The one human line is older than the AI lines: no human edit after the agent.
    assert ref.human_edit_share == 0.0
    assert rollup("shop", "shop.py", spans["other"], fa.lines, edited).ai_share == 1.0


def test_human_edit_after_ai_counts_as_edit_share(repo: Repo) -> None:
    body = "def f():\n    a = 1\n    b = 2\n    c = 3\n    return a + b + c\n"
    repo.write("m.py", body)
    commit = repo.commit("agent")
    repo.note(commit, {"m.py": [NoteEntry("ai", ((1, 5),), agent="claude-code")]})
    repo.write("m.py", body.replace("b = 2", "b = 22"))
    repo.commit("human tweak")
    with Attributor(repo.root) as engine:
        fa = engine.attribute_path("m.py")
        times = engine.commit_times()
    spans = function_spans(body)
    ref = rollup("m", "m.py", spans[0], fa.lines, edited_lines(fa.lines, spans, times))
    assert ref.ai_share == 0.8
    assert ref.human_edit_share == 0.2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["def", "async", "class", "deco", "nest"]), min_size=1, max_size=12))
def test_generated_sources_spans_are_well_formed(shape: list[str]) -> None:
    out: list[str] = []
    for i, kind in enumerate(shape):
        if kind == "def":
            out.append(f"def f{i}(x):\n    return x\n")
        elif kind == "async":
            out.append(f"async def a{i}():\n    return 1\n")
        elif kind == "class":
            out.append(f"class C{i}:\n    def m(self):\n        return 1\n")
        elif kind == "deco":
            out.append(f"@dec\n@dec2(1)\ndef d{i}():\n    pass\n")
        else:
            out.append(f"def o{i}():\n    def inner():\n        return 2\n    return inner\n")
    source = "\n".join(out)
    spans = function_spans(source)
    total = source.count("\n")
    expected = sum({"def": 1, "async": 1, "class": 1, "deco": 1, "nest": 2}[k] for k in shape)
    assert len(spans) == expected
    for span in spans:
        assert 1 <= span.start_line <= span.def_line <= span.end_line <= total
    qualnames = [s.qualname for s in spans]
    assert len(set(qualnames)) == len(qualnames)


def test_one_complexity_reading_serves_the_report_and_the_check() -> None:
    from codewitness.attribution.functions import Complexity, cognitive_complexity
    from codewitness.attribution.report import _complexities
    from codewitness.checks.complexity import function_complexity

    source = (
        "class A:\n    @staticmethod\n    def m(x):\n        if x:\n            for i in x:\n"
        "                if i:\n                    return i\n\n\ndef f():\n    return 1\n"
    )
    assert cognitive_complexity(source) == (Complexity("A::m", 2, 7, 6), Complexity("f", 10, 11, 0))
    assert _complexities(source) == {2: 6, 10: 0}
    assert function_complexity(source) == {"A::m": (6, 2, 7), "f": (0, 10, 11)}
    assert cognitive_complexity("def (:") == ()
