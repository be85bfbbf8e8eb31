"""``replay --since-context-change``: the newest commit that changed an agent context file is
found, the functions agents wrote after it are replayed against the revision before it, and a
function a person wrote meanwhile is not among them."""

from __future__ import annotations

import json

from tests.agent_edit import cursor_edit, install_hooks
from tests.behavior.replay_project import cli
from tests.conftest import GitRepo

from codewitness.behavior.changes import last_context_change
from codewitness.behavior.corpus import add_user_entry
from codewitness.store import open_store

CODE = """def ship(weight):
    return 5 if weight < 10 else 9


def tax(amount):
    return amount // 5
"""


def test_what_agents_wrote_after_the_context_changed_is_replayed_against_the_revision_before(
    git_repo: GitRepo,
) -> None:
    root = git_repo.root
    git_repo.write("cart.py", CODE)
    git_repo.write(".gitignore", ".codewitness/\n")
    git_repo.write("CLAUDE.md", "Prices are integers of cents.\n")
    git_repo.commit("cart")
    install_hooks(root)
    git_repo.commit("hooks")
    git_repo.write(".cursor/rules/money.mdc", "Round shipping up to whole euros.\n")
    change = git_repo.commit("agent rules: shipping")
    cursor_edit(root, "cart.py", "return 5 if weight < 10 else 9", "return 5 if weight < 20 else 9", prompt="ship")
    git_repo.write("cart.py", (root / "cart.py").read_text().replace("amount // 5", "amount // 4"))
    git_repo.commit("shipping by the agent, tax by a person")
    with open_store(f"sqlite:///{root / '.codewitness' / 'witness.db'}") as store:
        for weight in (5, 15, 25):
            add_user_entry(store, "cart.ship", {"weight": weight})
        add_user_entry(store, "cart.tax", {"amount": 100})

    found = last_context_change(root, ("CLAUDE.md", ".cursor/rules/**"))
    assert found is not None and found.commit == change and found.files == (".cursor/rules/money.mdc",)

    proc = cli(root, "replay", "--since-context-change", "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["mode"] == "since-context-change"
    assert report["context_change"]["commit"] == change
    assert report["old"]["commit"] == git_repo.git("rev-parse", f"{change}^").strip()
    assert [f["function"] for f in report["functions"]] == ["cart.ship"]  # tax was a person's edit
    (ship,) = report["functions"]
    assert (ship["equal"], ship["differing"]) == (2, 1)
    assert ship["differing_inputs"][0]["input"] == "weight=15"


def test_without_a_context_change_it_says_so(git_repo: GitRepo) -> None:
    git_repo.write("cart.py", CODE)
    git_repo.commit("cart")
    proc = cli(git_repo.root, "replay", "--since-context-change", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "codewitness: error: no commit changes an agent context file (metrics.context_files: CLAUDE.md,"
    )
    # The project names its own context file: one list for the metrics' markers and for replay.
    git_repo.write("codewitness.toml", '[metrics]\ncontext_files = ["team/agent-notes.txt"]\n')
    git_repo.write("team/agent-notes.txt", "Weights are in kilograms.\n")
    change = git_repo.commit("agent notes")
    found = cli(git_repo.root, "replay", "--since-context-change", "--json")
    assert found.returncode == 0, found.stderr
    report = json.loads(found.stdout)
    assert (report["context_change"]["commit"], report["context_change"]["files"]) == (
        change,
        ["team/agent-notes.txt"],
    )
