"""--codewitness-record: input/output pairs of AI functions from the test run, stored in the corpus."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from codewitness.model import Manifest, ManifestFunction
from codewitness.store import open_store, schema
from codewitness.store.corpus import corpus_entries
from tests.conftest import GitRepo
from tests.pytest_plugin.conftest import RunPytest


def _manifest(repo: GitRepo) -> Path:
    manifest = Manifest(
        revision="test",
        functions=(
            ManifestFunction(
                module="calc",
                qualname="ai_clamp",
                path="calc.py",
                start_line=9,
                end_line=14,
                ai_share=1.0,
                generation_ids=("gen_calc",),
                models=("claude-sonnet-4-5",),
                agents=("claude-code",),
            ),
        ),
    )
    path = repo.root / ".codewitness" / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest.to_json(), encoding="utf-8")
    return path


def test_samples_of_ai_functions_are_stored(calc_repo: GitRepo, run_pytest: RunPytest, tmp_path: Path) -> None:
    manifest = _manifest(calc_repo)
    proc = run_pytest(calc_repo.root, "--codewitness-record", "--codewitness-manifest", str(manifest))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    db = f"sqlite:///{tmp_path / 'witness.db'}"
    assert f"codewitness: recorded 1 input/output sample(s) of 1 AI function(s) into {db}" in proc.stdout
    store = open_store(db)
    try:
        with store.read() as conn:
            rows = conn.execute(select(schema.runtime_samples)).mappings().all()
    finally:
        store.close()
    assert len(rows) == 1
    assert rows[0]["function"] == "calc.ai_clamp"
    assert rows[0]["arguments"] == {"value": 5, "low": 0, "high": 10}
    assert rows[0]["result"] == 5
    # ...and it is a replayable input of the corpus, known to come from the tests.
    assert rows[0]["source"] == "pytest" and rows[0]["input"] == {"value": 5, "low": 0, "high": 10}
    store = open_store(db)
    try:
        (entry,) = corpus_entries(store)
    finally:
        store.close()
    assert (entry.function, entry.source, entry.input, entry.observed) == (
        "calc.ai_clamp",
        "pytest",
        {"value": 5, "low": 0, "high": 10},
        {"ok": 5},
    )
    # Only the manifest's function was sampled: human_add ran too, but is not AI-written.
    assert "human_add" not in proc.stdout


def test_recording_without_a_manifest_says_what_it_stored(calc_repo: GitRepo, run_pytest: RunPytest) -> None:
    proc = run_pytest(calc_repo.root, "--codewitness-record")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "codewitness: recorded 0 input/output sample(s) of 0 AI function(s)" in proc.stdout


def test_an_unwritable_store_is_one_line_not_a_failed_run(calc_repo: GitRepo, run_pytest: RunPytest) -> None:
    manifest = _manifest(calc_repo)
    blocker = calc_repo.root.parent / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    proc = run_pytest(
        calc_repo.root,
        "--codewitness-record",
        "--codewitness-manifest",
        str(manifest),
        env={"CODEWITNESS_DB": f"sqlite:///{blocker / 'witness.db'}"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
    assert "codewitness: recording not stored:" in proc.stdout


def test_the_store_url_is_printed_without_its_password() -> None:
    from codewitness.pytest_plugin import _safe_url

    assert _safe_url("postgresql://cw:s3cret@db.local:5432/witness") == "postgresql://cw:***@db.local:5432/witness"
    assert _safe_url("sqlite:////tmp/witness.db") == "sqlite:////tmp/witness.db"
