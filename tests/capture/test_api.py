"""Recording generations from your own pipelines: one implementation behind the API and the CLI."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import codewitness
from codewitness import ledger
from codewitness.capture import api
from codewitness.cli import main
from codewitness.errors import InputError
from codewitness.store import open_store


def test_the_public_function_is_the_capture_api() -> None:
    assert codewitness.record_generation is api.record_generation
    parameters = inspect.signature(codewitness.record_generation).parameters
    assert list(parameters) == [
        "model",
        "prompt",
        "output",
        "agent",
        "params",
        "prompt_name",
        "prompt_version",
        "files",
        "session_id",
        "request_id",
        "input_tokens",
        "output_tokens",
        "latency_ms",
        "created_at",
        "database",
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())


def test_a_malformed_range_fails_before_a_store_is_made(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    with pytest.raises(InputError):
        api.record_generation(model="m", prompt="p", output="o", files=["a.py:3-1"], database=f"sqlite:///{db}")
    assert not db.exists()


def test_the_cli_and_the_api_record_the_same_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    gid = api.record_generation(
        model="m",
        prompt="write f",
        output="def f(): ...",
        params={"temperature": 0.5},
        prompt_name="f",
        prompt_version="v1",
        files=["a.py:1-2"],
        database=url,
    )
    (tmp_path / "p.txt").write_text("write f")
    (tmp_path / "o.txt").write_text("def f(): ...")
    monkeypatch.chdir(tmp_path)
    args = ["--db", url, "record", "--model", "m", "--prompt-file", "p.txt", "--output-file", "o.txt"]
    assert main([*args, "--param", "temperature=0.5", "--prompt-name", "f", "--file", "a.py:1-2"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == gid and "already recorded" in err
    with open_store(url) as store:
        stored = ledger.get(store, gid)
    assert (stored.prompt_name, stored.prompt_version, [str(r) for r in stored.files]) == ("f", 1, ["a.py:1-2"])
