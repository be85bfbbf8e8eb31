"""Gate findings name their code: the function, and on AI lines the generations (model, prompt) behind them.

A real repository: a person writes ``shop/client.py``, a Cursor agent changes two lines through the
real capture hooks (two prompts, two generations), the post-commit hook writes the note and the
ledger; then ``codewitness check`` runs through its command line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from codewitness import ledger
from codewitness.attribution.notes import read_note
from codewitness.cli import main
from codewitness.store import open_store
from tests.agent_edit import cursor_edit, install_hooks

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

CLIENT = """\
import random
import urllib.request


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def ping(host):
    return urllib.request.urlopen(host)


class Picker:
    def pick(self, items):
        return items[0]
"""
FETCH_PROMPT = "Let fetch wait as long as the server needs"
PICK_PROMPT = "Pick a random item instead of the first"


@pytest.fixture
def shop(git_repo: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    root = git_repo.root
    git_repo.write("shop/__init__.py", "")
    git_repo.write("shop/client.py", CLIENT)
    git_repo.commit("client")
    install_hooks(root)
    git_repo.commit("codewitness init")
    cursor_edit(
        root,
        "shop/client.py",
        "urllib.request.urlopen(url, timeout=5)",
        "urllib.request.urlopen(url)",
        prompt=FETCH_PROMPT,
    )
    cursor_edit(
        root,
        "shop/client.py",
        "return items[0]",
        "return random.choice(items)",
        prompt=PICK_PROMPT,
        model="claude-sonnet-4-5",
    )
    git_repo.commit("agent edits")
    note = read_note(root, "HEAD")
    assert note is not None
    fetch_entry, pick_entry = note.entry_for("shop/client.py", 6), note.entry_for("shop/client.py", 16)
    assert fetch_entry is not None and pick_entry is not None
    assert note.entry_for("shop/client.py", 11) is None  # ping is the person's
    monkeypatch.chdir(root)
    return {
        "repo": git_repo,
        "root": root,
        "fetch": fetch_entry.generation_ids[0],
        "pick": pick_entry.generation_ids[0],
    }


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _by_line(out: str, rules: tuple[str, ...] = ("CW307", "CW308")) -> dict[int, dict[str, Any]]:
    """The findings of ``rules`` by line (ruff's S310 also flags each ``urlopen``, as CW301)."""
    found = [f for f in json.loads(out)["findings"] if f["rule"] in rules]
    by_line = {f["line"]: f for f in found}
    assert len(by_line) == len(found)
    return by_line


def test_json_findings_carry_function_generation_model_and_prompt(
    shop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "check", "--only", "security", "--json")
    assert code == 1, err  # the missing timeout on the AI line fails the gate
    findings = _by_line(out)

    fetch = findings[6]
    assert (fetch["rule"], fetch["severity"], fetch["ai_authored"]) == ("CW307", "high", True)
    assert (fetch["function"], fetch["module"], fetch["qualname"]) == ("shop.client.fetch", "shop.client", "fetch")
    assert fetch["generations"] == [
        {
            "id": shop["fetch"],
            "agent": "cursor",
            "model": "gpt-5.1-codex",
            "prompt": {"name": None, "version": None, "sha256": _sha(FETCH_PROMPT)},
        }
    ]
    assert FETCH_PROMPT not in out  # the prompt's text stays in the ledger

    ping = findings[11]  # the same flaw on a person's line keeps the rule's severity
    assert (ping["rule"], ping["severity"], ping["ai_authored"]) == ("CW307", "medium", False)
    assert ping["function"] == "shop.client.ping" and ping["generations"] == []

    pick = findings[16]  # unseeded random on an AI line stays a warning
    assert (pick["rule"], pick["severity"], pick["qualname"]) == ("CW308", "low", "Picker.pick")
    assert pick["function"] == "shop.client.Picker.pick"
    assert [(g["id"], g["model"]) for g in pick["generations"]] == [(shop["pick"], "claude-sonnet-4-5")]
    assert pick["generations"][0]["prompt"]["sha256"] == _sha(PICK_PROMPT)

    store = open_store(f"sqlite:///{shop['root'] / '.codewitness' / 'witness.db'}")
    try:  # the digest is of the prompt the ledger holds for that generation
        assert ledger.get(store, shop["fetch"]).prompt_hash == _sha(FETCH_PROMPT)
    finally:
        store.close()


def test_configuration_decides_which_rules_fail_on_ai_lines(
    shop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    root: Path = shop["root"]
    (root / "codewitness.toml").write_text('[check]\nhigh_on_ai = ["CW307", "CW308"]\n')
    code, out, _ = cli(capsys, "check", "--only", "security", "--json")
    assert code == 1
    assert {line: f["severity"] for line, f in _by_line(out).items()} == {6: "high", 11: "medium", 16: "high"}
    (root / "codewitness.toml").write_text("[check]\nhigh_on_ai = []\n")
    code, out, err = cli(capsys, "check", "--only", "security", "--json")
    assert code == 0, err
    assert _by_line(out)[6]["severity"] == "medium"
    (root / "codewitness.toml").write_text('[check]\nhigh_on_ai = ["CW999"]\n')
    code, _, err = cli(capsys, "check", "--only", "security")
    assert code == 2 and "check.high_on_ai: unknown rule id(s) CW999" in err and "Traceback" not in err


def test_sarif_names_the_function_and_the_generation(
    shop: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "out.sarif"
    code, _, err = cli(capsys, "check", "--only", "security", "--sarif", str(target), "--fail-on", "never")
    assert code == 0, err
    doc = json.loads(target.read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    results = {
        r["locations"][0]["physicalLocation"]["region"]["startLine"]: r
        for r in doc["runs"][0]["results"]
        if r["ruleId"] in ("CW307", "CW308")
    }
    fetch = results[6]
    assert fetch["level"] == "error"
    assert fetch["locations"][0]["logicalLocations"] == [
        {"name": "fetch", "fullyQualifiedName": "shop.client.fetch", "kind": "function"}
    ]
    assert fetch["properties"]["generation_ids"] == [shop["fetch"]]
    assert fetch["properties"]["models"] == ["gpt-5.1-codex"]
    assert fetch["properties"]["generations"][0]["prompt"]["sha256"] == _sha(FETCH_PROMPT)
    pick = results[16]["locations"][0]["logicalLocations"][0]
    assert (pick["name"], pick["fullyQualifiedName"]) == ("pick", "shop.client.Picker.pick")
    ping = results[11]
    assert ping["properties"]["ai_authored"] is False and "generation_ids" not in ping["properties"]


def test_markdown_and_terminal_show_function_and_generation(
    shop: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "report.md"
    code, out, _ = cli(capsys, "check", "--only", "security", "--md", str(target))
    assert code == 1
    rows = {
        line.split("|")[3].strip(): line
        for line in target.read_text().splitlines()
        if "`CW307`" in line or "`CW308`" in line
    }
    fetch = rows["`shop/client.py:6` in `fetch()`"]
    assert f"yes: `{shop['fetch']}` (`gpt-5.1-codex`, `prompt sha256:{_sha(FETCH_PROMPT)[:12]}`)" in fetch
    assert "yes" not in rows["`shop/client.py:11` in `ping()`"].split("|")[5]
    assert shop["pick"] in rows["`shop/client.py:16` in `Picker.pick()`"]
    assert "shop/client.py:6 in fetch()" in out
    assert f"written by {shop['fetch']} (gpt-5.1-codex, prompt sha256:{_sha(FETCH_PROMPT)[:12]})" in out


def test_uncommitted_edits_keep_the_names_of_committed_ai_lines(
    shop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A person adds lines above (not committed): the gate blames the working tree and reads the note."""
    client = shop["root"] / "shop" / "client.py"
    client.write_text('"""HTTP helpers."""\n\n' + client.read_text())
    code, out, _ = cli(capsys, "check", "--only", "security", "--json")
    assert code == 1
    findings = _by_line(out)
    assert findings[8]["function"] == "shop.client.fetch" and findings[8]["severity"] == "high"
    assert [g["id"] for g in findings[8]["generations"]] == [shop["fetch"]]
    # ping's commit has no note: the working-tree path does not know (the engine path says human)
    assert not findings[13]["ai_authored"] and findings[13]["generations"] == []
    assert findings[13]["severity"] == "medium" and findings[13]["function"] == "shop.client.ping"
    assert [g["model"] for g in findings[18]["generations"]] == ["claude-sonnet-4-5"]


def test_a_dependency_an_agent_added_names_its_generation(
    git_repo: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], index_server: Any
) -> None:
    root = git_repo.root
    git_repo.write("requirements.txt", "requests\n")
    git_repo.commit("deps")
    install_hooks(root)
    git_repo.commit("codewitness init")
    cursor_edit(root, "requirements.txt", "requests\n", "requests\nfetchjson-helper\n", prompt="Add a JSON helper")
    git_repo.commit("agent adds a dependency")
    note = read_note(root, "HEAD")
    assert note is not None and note.entry_for("requirements.txt", 2) is not None
    (root / "codewitness.toml").write_text(f'[check]\nindex_url = "{index_server.simple}"\n')
    monkeypatch.chdir(root)
    code, out, err = cli(capsys, "check", "--only", "deps", "--json")
    assert code == 1, err
    (missing,) = [f for f in json.loads(out)["findings"] if f["rule"] == "CW101"]
    assert (missing["line"], missing["ai_authored"], missing["function"]) == (2, True, None)
    assert [g["id"] for g in missing["generations"]] == list(note.entry_for("requirements.txt", 2).generation_ids)
    assert missing["generations"][0]["prompt"]["sha256"] == _sha("Add a JSON helper")
