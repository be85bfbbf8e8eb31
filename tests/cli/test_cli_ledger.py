"""The ledger commands, run through the real entry point in a project folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codewitness.cli import main


class CLI:
    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def file(self, name: str, data: str | bytes) -> str:
        path = self.root / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        return name


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CLI:
    (tmp_path / ".git").mkdir()  # a project root; the default store goes to .codewitness/ here
    monkeypatch.chdir(tmp_path)
    return CLI(tmp_path, capsys)


def record(cli: CLI, *extra: str) -> tuple[int, str, str]:
    cli.file("p.txt", "Write total() for the cart.\n")
    cli.file("o.txt", "def total(items):\n    return sum(i.price for i in items)\n")
    return cli("record", "--model", "claude-sonnet-4-5", "--prompt-file", "p.txt", "--output-file", "o.txt", *extra)


def test_record_prints_the_id_and_is_idempotent(cli: CLI) -> None:
    code, out, _ = record(cli, "--param", "temperature=0.2", "--file", "shop/pricing.py:1-2")
    assert code == 0
    gid = out.strip()
    assert gid.startswith("gen_")
    code, out, err = record(cli, "--param", "temperature=0.2", "--file", "shop/pricing.py:1-2")
    assert (code, out.strip()) == (0, gid)
    assert "already recorded" in err
    code, out, _ = record(cli, "--param", "temperature=0.3")
    assert out.strip() != gid
    assert (cli.root / ".codewitness" / "witness.db").is_file()
    _, out, _ = cli("generations", "list", "--json")
    assert len(json.loads(out)) == 2


def test_record_json_prints_the_record(cli: CLI) -> None:
    code, out, _ = record(
        cli,
        "--json",
        "--param",
        "temperature=0.2",
        "--param",
        'stop=["END"]',
        "--param",
        "style=terse",
        "--prompt-name",
        "pricing",
        "--prompt-version",
        "v1",
        "--request-id",
        "req_1",
        "--input-tokens",
        "10",
    )
    assert code == 0
    data = json.loads(out)
    assert data["params"] == {"temperature": 0.2, "stop": ["END"], "style": "terse"}
    assert (data["prompt_name"], data["prompt_version"], data["request_id"], data["input_tokens"]) == (
        "pricing",
        1,
        "req_1",
        10,
    )


def test_generations_show_and_filters(cli: CLI) -> None:
    _, out, _ = record(cli, "--file", "shop/pricing.py:1-2", "--agent", "cursor")
    gid = out.strip()
    code, out, _ = cli("generations", "show", gid[:12], "--json")
    assert code == 0 and json.loads(out)["id"] == gid
    code, out, _ = cli("generations", "show", gid)
    assert code == 0 and "Write total() for the cart." in out and "return sum" in out
    for args, expected in [
        (("--agent", "cursor"), 1),
        (("--agent", "api"), 0),
        (("--file", "shop"), 1),
        (("--model", "claude-sonnet-4-5"), 1),
        (("--since", "1h"), 1),
        (("--since", "2999-01-01"), 0),
    ]:
        code, out, _ = cli("generations", "list", "--json", *args)
        assert code == 0 and len(json.loads(out)) == expected, args


def test_prompt_versions_through_the_cli(cli: CLI) -> None:
    cli.file("o.txt", "x\n")
    for text, label in [("Sum prices.", "v1"), ("Sum prices.", "v1"), ("Sum prices half-even.", "v2")]:
        cli.file("p.txt", text + "\n")
        cli(
            "record",
            "--model",
            "m",
            "--prompt-file",
            "p.txt",
            "--output-file",
            "o.txt",
            "--prompt-name",
            "pricing",
            "--prompt-version",
            label,
        )
    code, out, _ = cli("prompts", "history", "pricing", "--json")
    history = json.loads(out)
    assert code == 0 and history["changes"] == 1
    assert [(v["version"], v["label"]) for v in history["versions"]] == [(1, "v1"), (2, "v2")]
    code, out, _ = cli("prompts", "diff", "pricing@1", "pricing@v2")
    assert code == 0 and "-Sum prices.\n+Sum prices half-even.\n" in out
    code, out, _ = cli("prompts", "show", "pricing@1")
    assert code == 0 and out == "Sum prices.\n"
    code, out, _ = cli("prompts", "list", "--json")
    assert json.loads(out)[0]["latest_version"] == 2


def _ledger_dump(cli: CLI) -> str:
    code, out, _ = cli("generations", "export", "--format", "jsonl")
    assert code == 0
    return out


@pytest.mark.parametrize(
    ("args", "files", "exit_code", "message"),
    [
        (["--prompt-file", "missing.txt", "--output-file", "o.txt"], {}, 2, "prompt file missing.txt does not exist"),
        (["--prompt-file", "p.txt", "--output-file", "o.txt", "--param", "oops"], {}, 2, "bad --param 'oops'"),
        (["--prompt-file", "bin.txt", "--output-file", "o.txt"], {"bin.txt": b"\xff\xfe\x00bad"}, 2, "not UTF-8"),
        (["--prompt-file", "p.txt", "--output-file", "o.txt", "--file", "a.py:9-2"], {}, 2, "bad file range"),
        (["--prompt-file", ".", "--output-file", "o.txt"], {}, 2, "is a folder"),
    ],
)
def test_malformed_input_is_one_line_and_changes_nothing(
    cli: CLI, args: list[str], files: dict[str, bytes], exit_code: int, message: str
) -> None:
    record(cli)
    before = _ledger_dump(cli)
    for name, data in files.items():
        cli.file(name, data)
    code, out, err = cli("record", "--model", "m", *args)
    assert code == exit_code
    assert out == ""
    assert err.startswith("codewitness: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert _ledger_dump(cli) == before


def test_unknown_generation_is_exit_1(cli: CLI) -> None:
    record(cli)
    code, _, err = cli("generations", "show", "gen_0000000000000000dead")
    assert code == 1 and "no generation" in err and err.count("\n") == 1


def test_usage_errors_are_exit_2(cli: CLI) -> None:
    assert cli("generations", "list", "--limit", "0")[0] == 2
    assert cli("no-such-command")[0] == 2
    code, _, err = cli("generations", "list", "--since", "yesterday-ish")
    assert code == 2 and "cannot read time" in err


def test_export_import_between_two_projects(cli: CLI, tmp_path: Path) -> None:
    record(cli, "--prompt-name", "pricing")
    dump = cli.file("dump.jsonl", _ledger_dump(cli))
    other = f"sqlite:///{tmp_path / 'other.db'}"
    code, out, _ = cli("--db", other, "generations", "import", dump)
    assert code == 0 and "imported 1 generation(s)" in out
    code, out, _ = cli("--db", other, "generations", "import", dump)
    assert "imported 0 generation(s), 1 already present" in out
    code, out, _ = cli("--db", other, "generations", "export")
    assert out == Path(cli.root / dump).read_text()
    cli.file("bad.jsonl", '{"type": "generation"}\n')
    code, _, err = cli("--db", other, "generations", "import", "bad.jsonl")
    assert code == 2 and "line 1" in err


def test_config_command_shows_sources(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.file("codewitness.toml", f'database = "sqlite:///{cli.root}/x.db"\n')
    code, out, _ = cli("config", "--json")
    data = json.loads(out)
    assert code == 0 and data["settings"]["database"]["source"] == "codewitness.toml"
    monkeypatch.setenv("CODEWITNESS_DB", f"sqlite:///{cli.root}/y.db")
    _, out, _ = cli("config", "--json")
    assert json.loads(out)["settings"]["database"]["source"] == "env CODEWITNESS_DB"
    cli.file("codewitness.toml", "datbase = 1\n")
    code, _, err = cli("config")
    assert code == 2 and "unknown setting 'datbase'" in err


def test_version(cli: CLI) -> None:
    code, out, _ = cli("--version")
    assert code == 0 and out.startswith("codewitness ")


def test_an_empty_list_says_why(cli: CLI) -> None:
    # Before: "no generations match", whether the ledger was empty or a filter left nothing.
    code, out, err = cli("generations", "list")
    assert (code, out) == (0, "")
    assert "no generations recorded yet" in err and "codewitness init" in err and "codewitness record" in err
    record(cli)
    code, out, err = cli("generations", "list", "--model", "gpt-5", "--since", "7d")
    assert (code, out) == (0, "")
    assert "no generations match --model gpt-5 --since 7d (without them: codewitness generations list)" in err
