"""The manifest lists every function with AI-written lines, and their origin reaches every runtime fact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.attribution.manifest import manifest_from_report
from codewitness.attribution.notes import read_note
from codewitness.attribution.report import build_report
from codewitness.cli import main
from codewitness.errors import InputError
from codewitness.model import Manifest, ManifestFunction
from tests.agent_edit import cursor_edit, install_hooks

PRICING = """\
def discount(price, rate):
    cut = price * rate
    return price - cut


def unit_price(total, count):
    return total / count
"""

PYPROJECT = """\
[tool.codewitness.sensor]
interval = 3600

[[tool.codewitness.invariants]]
function = "shop.pricing:discount"
ensure = "result <= price"
name = "discount_not_above_price"
mode = "record"
"""

DRIVER = """\
from shop import pricing

pricing.discount(20, 0)           # holds
pricing.discount(10, 0.1)         # breaks discount_not_above_price: the agent's line adds the cut
try:
    pricing.discount("ten", 0.1)  # raises TypeError inside discount
except TypeError:
    pass
print("driven")
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def shop(git_repo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A repository whose person-written ``discount`` had its last line (of three) changed by an agent."""
    root = git_repo.root
    git_repo.write("shop/__init__.py", "")
    git_repo.write("shop/pricing.py", PRICING)
    git_repo.write("pyproject.toml", PYPROJECT)
    git_repo.commit("pricing")
    install_hooks(root)
    git_repo.commit("codewitness init")
    cursor_edit(
        root,
        "shop/pricing.py",
        "    return price - cut\n",
        "    return price + cut\n",
        prompt="Make discount round correctly",
    )
    git_repo.commit("discount: agent fix")
    monkeypatch.chdir(root)
    monkeypatch.setenv("CODEWITNESS_DB", f"sqlite:///{root / '.codewitness' / 'witness.db'}")
    return git_repo


def _generation(root: Path) -> str:
    note = read_note(root, "HEAD")
    assert note is not None
    entry = note.entry_for("shop/pricing.py", 3)
    assert entry is not None and entry.origin == "ai"
    assert note.entry_for("shop/pricing.py", 2) is None  # the other lines stay the person's
    return entry.generation_ids[0]


def _drive(root: Path, *extra: str) -> None:
    (root / "drive.py").write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "run", *extra, "--", sys.executable, "drive.py"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "driven"


def test_one_agent_line_of_three_keeps_its_origin_at_runtime(shop: Any, capsys: pytest.CaptureFixture[str]) -> None:
    root = shop.root
    generation = _generation(root)

    code, _, err = cli(capsys, "manifest", "build")
    assert code == 0, err
    manifest = Manifest.from_json((root / ".codewitness" / "manifest.json").read_text())
    (listed,) = manifest.functions  # unit_price has no AI line: not listed
    assert listed.name == "shop.pricing.discount"
    assert listed.ai_share == pytest.approx(1 / 3, abs=1e-4)
    assert listed.generation_ids == (generation,)
    assert listed.models == ("gpt-5.1-codex",)
    assert manifest.watched == (listed,)

    _drive(root)
    code, out, err = cli(capsys, "ingest", "--json")
    assert code == 0, err
    assert json.loads(out)["by_kind"].get("breach") == 1, out
    code, out, err = cli(capsys, "runtime", "--json")
    assert code == 0, err
    (row,) = [s for s in json.loads(out) if s["function"] == "shop.pricing.discount"]
    assert row["origin"] == "mixed"
    assert row["ai_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert row["generation_ids"] == [generation]
    assert row["models"] == ["gpt-5.1-codex"]
    assert row["calls"] == 3 and row["errors"] == 1
    assert [e["type"] for e in row["exceptions"]] == ["TypeError"]
    assert [b["rule"] for b in row["breaches"]] == ["discount_not_above_price"]

    code, out, _ = cli(capsys, "runtime")
    assert code == 0
    assert "mixed 33%" in out and f"written by: {generation}" in out


def test_below_the_watch_threshold_the_origin_still_travels(shop: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``--min-share 0.5``: discount is listed but not watched by default; the rule's pattern still
    selects it, and what is recorded about it carries the manifest's origin, not ``human``."""
    root = shop.root
    generation = _generation(root)
    code, out, err = cli(capsys, "manifest", "build", "--min-share", "0.5")
    assert code == 0, err
    assert "1 functions with AI-written lines" in out and "0 watched" in out
    manifest = Manifest.from_json((root / ".codewitness" / "manifest.json").read_text())
    assert manifest.watch_min_share == 0.5
    assert [f.name for f in manifest.functions] == ["shop.pricing.discount"] and manifest.watched == ()

    _drive(root)
    assert cli(capsys, "ingest")[0] == 0
    code, out, _ = cli(capsys, "runtime", "--json")
    (row,) = json.loads(out)
    assert (row["function"], row["origin"], row["generation_ids"]) == ("shop.pricing.discount", "mixed", [generation])
    assert row["breaches"] and row["exceptions"]


def test_manifest_from_report_lists_every_function_with_ai_lines(shop: Any) -> None:
    report = build_report(shop.root)
    watched_all = manifest_from_report(report)
    assert [f.name for f in watched_all.functions] == ["shop.pricing.discount"]
    assert watched_all.watch_min_share == 0.0 and len(watched_all.watched) == 1
    strict = manifest_from_report(report, min_share=0.9)
    assert strict.functions == watched_all.functions and strict.watched == ()
    with pytest.raises(InputError, match="between 0 and 1"):
        manifest_from_report(report, min_share=-0.1)


# -- the format ------------------------------------------------------------------------------------

OLD_MANIFEST = """{
  "version": 1,
  "revision": "abc123",
  "created_at": "2026-10-01T12:00:00+00:00",
  "functions": [
    {"module": "shop.pricing", "qualname": "quote", "path": "shop/pricing.py", "start_line": 3,
     "end_line": 9, "ai_share": 0.75, "generation_ids": ["gen_a"], "models": ["m"], "agents": ["cursor"]},
    {"module": "shop.cart", "qualname": "Cart.total", "path": "shop/cart.py", "start_line": 1,
     "end_line": 2, "ai_share": 1.0}
  ]
}"""


def test_a_manifest_written_before_the_threshold_field_still_loads() -> None:
    manifest = Manifest.from_json(OLD_MANIFEST)
    assert manifest.watch_min_share == 0.0
    assert [f.name for f in manifest.watched] == ["shop.pricing.quote", "shop.cart.Cart.total"]
    assert manifest.functions[1].generation_ids == ()


@pytest.mark.parametrize("bad", ['"0.5"', "1.5", "-1", "true", "null"])
def test_a_bad_watch_threshold_is_a_one_line_error(bad: str) -> None:
    text = OLD_MANIFEST.replace('"version": 1,', f'"version": 1, "watch_min_share": {bad},')
    with pytest.raises(ValueError, match="watch_min_share must be a number between 0 and 1") as caught:
        Manifest.from_json(text)
    assert "\n" not in str(caught.value)


_names = st.text(st.characters(categories=("L", "N"), include_characters="_"), min_size=1, max_size=12)
_functions = st.builds(
    ManifestFunction,
    module=_names,
    qualname=_names,
    path=_names,
    start_line=st.integers(1, 10_000),
    end_line=st.integers(1, 10_000),
    ai_share=st.floats(0.0001, 1.0).map(lambda x: round(x, 4)),
    generation_ids=st.lists(_names, max_size=3).map(tuple),
    models=st.lists(_names, max_size=2).map(tuple),
    agents=st.lists(_names, max_size=2).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(functions=st.lists(_functions, max_size=6).map(tuple), watch=st.floats(0.0, 1.0).map(lambda x: round(x, 4)))
def test_manifest_round_trip(functions: tuple[ManifestFunction, ...], watch: float) -> None:
    manifest = Manifest("rev", functions, created_at=datetime(2026, 11, 1, tzinfo=UTC), watch_min_share=watch)
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest
    assert again.watched == tuple(f for f in functions if f.ai_share >= watch)

