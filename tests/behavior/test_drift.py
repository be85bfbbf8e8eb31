"""Prompt drift on a recorded code-generation pipeline: three versions of a prompt in the ledger, a
generator command (a script in the repository) that writes the module each version asks for,
a baseline pinned on the module of version 1; ``drift check --all-versions`` records a generation
per version with its prompt version and names version 3, the first whose behaviour changed."""

from __future__ import annotations

import json
import sys

import pytest
from tests.behavior.replay_project import cli
from tests.conftest import GitRepo

from codewitness import ledger
from codewitness.behavior.corpus import add_user_entry
from codewitness.model import Generation, utcnow
from codewitness.store import open_store

PROMPTS = (
    "Write round_total(amount) in invoice.py: round the amount to cents, half up.",
    "Write round_total(amount) in invoice.py: round the amount to cents, half up. Add a docstring.",
    "Write round_total(amount) in invoice.py: round the amount to cents the way banks do (half even). Add a docstring.",
)
#: A stand-in for the model call: the code each prompt gets, decided by what the prompt says.
GENERATOR = '''import sys
from pathlib import Path

prompt = Path(sys.argv[1]).read_text()
mode = "ROUND_HALF_EVEN" if "half even" in prompt else "ROUND_HALF_UP"
doc = '    """Round to cents."""\\n' if "docstring" in prompt else ""
Path(sys.argv[2]).write_text(
    "from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal\\n\\n\\n"
    "def round_total(amount):\\n" + doc + f"    return amount.quantize(Decimal('0.01'), rounding={mode})\\n"
)
'''


@pytest.fixture
def pipeline(git_repo: GitRepo) -> GitRepo:
    root = git_repo.root
    git_repo.write("gen.py", GENERATOR)
    git_repo.write(".gitignore", ".codewitness/\n")
    git_repo.write("codewitness.toml", "[behavior]\nrepeat = 1\n")
    git_repo.commit("the pipeline")
    db = f"sqlite:///{root / '.codewitness' / 'witness.db'}"
    with open_store(db) as store:
        for text in PROMPTS:  # the pipeline recorded each version as the prompt was refined
            ledger.record(
                store,
                Generation.create(
                    agent="api", model="m", prompt=text, output="...", prompt_name="invoice", created_at=utcnow()
                ),
            )
        for amount in ("1.005", "2.675", "0.125", "10.00", "3.14159"):
            add_user_entry(store, "invoice:round_total", {"amount": {"$": "decimal", "v": amount}})
    # The module of version 1, committed, is what the baseline pins.
    (root / "prompt.txt").write_text(PROMPTS[0])
    import subprocess

    subprocess.run([sys.executable, "gen.py", "prompt.txt", "invoice.py"], cwd=root, check=True)
    (root / "prompt.txt").unlink()
    git_repo.commit("invoice.py from invoice@1")
    assert cli(root, "baseline", "pin", "v1").returncode == 0
    return git_repo


def test_all_versions_finds_the_first_version_whose_behaviour_changed(pipeline: GitRepo) -> None:
    proc = cli(
        pipeline.root,
        "drift",
        "check",
        "--prompt",
        "invoice",
        "--all-versions",
        "--generate",
        f"{sys.executable} gen.py {{prompt}} {{output}}",
        "--function",
        "invoice:round_total",
        "--baseline",
        "v1",
        "--model",
        "stand-in-1",
        "--json",
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["first_changed"] == 3
    assert [(v["version"], v["equal"], v["differing"]) for v in report["versions"]] == [(1, 5, 0), (2, 5, 0), (3, 3, 2)]
    changed = report["versions"][2]["differing_inputs"]
    assert {c["input"] for c in changed} == {"amount=Decimal('0.125')", "amount=Decimal('1.005')"}  # ties to even
    assert changed[0]["old"][0].startswith("returned Decimal(")
    with open_store(f"sqlite:///{pipeline.root / '.codewitness' / 'witness.db'}") as store:
        for version in report["versions"]:
            recorded = ledger.get(store, version["generation_id"])
            assert (recorded.prompt_name, recorded.prompt_version, recorded.model) == (
                "invoice",
                version["version"],
                "stand-in-1",
            )
            assert "def round_total(amount):" in recorded.output


def test_one_version_and_the_mistakes_a_person_can_make(pipeline: GitRepo) -> None:
    generate = f"{sys.executable} gen.py {{prompt}} {{output}}"
    common = ["--generate", generate, "--function", "invoice:round_total", "--baseline", "v1"]
    same = cli(pipeline.root, "drift", "check", "--prompt", "invoice@2", *common)
    assert same.returncode == 0 and "invoice@2" in same.stdout and "same" in same.stdout
    for args, message in [
        (["--prompt", "invoice@9", *common], "prompt 'invoice' has no version '9' (versions: 1, 2, 3)"),
        (
            ["--prompt", "invoice", "--generate", generate, "--function", "invoice.round_total", "--baseline", "v1"],
            "MODULE:QUALNAME",
        ),
        (
            ["--prompt", "invoice", "--generate", "true", "--function", "invoice:round_total", "--baseline", "v1"],
            "put {output} in the command",
        ),
        (["--prompt", "invoice", *common[:4], "--baseline", "nope"], "no baseline 'nope'"),
    ]:
        proc = cli(pipeline.root, "drift", "check", *args, check=False)
        assert proc.returncode in (1, 2) and proc.stdout == ""
        (line,) = proc.stderr.splitlines()
        assert line.startswith("codewitness: error: ") and message in line
    broken = cli(
        pipeline.root,
        "drift",
        "check",
        "--prompt",
        "invoice@1",
        "--generate",
        f"{sys.executable} -c 'raise SystemExit(3)' {{output}}",
        "--function",
        "invoice:round_total",
        "--baseline",
        "v1",
        "--json",
    )
    assert broken.returncode == 1
    (version,) = json.loads(broken.stdout)["versions"]
    assert version["error"] == "the generator exited 3"
