"""Agent marks on commits, from the shapes real agents leave (accounts, trailers, message lines)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.attribution.blame import line_origins
from codewitness.attribution.trailers import RULES, agent_marks

from .conftest import HUMAN, Repo, lines

#: Shapes seen on public commits: (author, committer, message, agent, model, where).
REAL_SHAPES = [
    # GitHub Copilot coding agent: its commits and its co-author trailer.
    ("Copilot <198982749+Copilot@users.noreply.github.com>", "", "Fix", "copilot", None, "author"),
    ("copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>", "", "Fix", "copilot", None, "author"),
    (
        HUMAN,
        "",
        "Fix (#12)\n\nCo-authored-by: copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>",
        "copilot",
        None,
        "co-author",
    ),
    (
        HUMAN,
        "",
        "Fix\n\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>",
        "copilot",
        None,
        "co-author",
    ),
    (
        HUMAN,
        "",
        "Fix\n\nCo-authored-by: copilot[bot] <167198135+copilot[bot]@users.noreply.github.com>",
        "copilot",
        None,
        "co-author",
    ),
    # Devin.
    ("Devin AI <158243242+devin-ai-integration[bot]@users.noreply.github.com>", "", "Fix", "devin", None, "author"),
    (
        HUMAN,
        "",
        "Fix\n\nGenerated with [Devin](https://cli.devin.ai/docs)\n\n"
        "Co-Authored-By: Devin <158243242+devin-ai-integration[bot]@users.noreply.github.com>",
        "devin",
        None,
        "co-author",
    ),
    # Google Jules.
    (
        "google-labs-jules[bot] <161369871+google-labs-jules[bot]@users.noreply.github.com>",
        "",
        "Fix",
        "jules",
        None,
        "author",
    ),
    # OpenAI Codex: cloud connector, the Codex GitHub app, the CLI trailer.
    (
        HUMAN,
        "",
        "Fix\n\nCo-authored-by: chatgpt-codex-connector[bot] "
        "<199175422+chatgpt-codex-connector[bot]@users.noreply.github.com>",
        "codex",
        None,
        "co-author",
    ),
    (
        "chatgpt-codex-connector[bot] <199175422+chatgpt-codex-connector[bot]@users.noreply.github.com>",
        "",
        "x",
        "codex",
        None,
        "author",
    ),
    (HUMAN, "", "Fix\n\nCo-authored-by: Codex <242516109+Codex@users.noreply.github.com>", "codex", None, "co-author"),
    (
        HUMAN,
        "",
        "Fix\n\nCo-authored-by: openai-codex[bot] <215057067+openai-codex[bot]@users.noreply.github.com>",
        "codex",
        None,
        "co-author",
    ),
    (HUMAN, "", "Fix\n\nCo-authored-by: Codex <codex@openai.com>", "codex", None, "co-author"),
    # Claude: the GitHub app (both ids it has used) and Claude Code's trailer.
    ("claude[bot] <209825114+claude[bot]@users.noreply.github.com>", "", "Fix", "claude-code", None, "author"),
    (
        HUMAN,
        "",
        "Fix\n\nCo-authored-by: claude[bot] <41898282+claude[bot]@users.noreply.github.com>",
        "claude-code",
        None,
        "co-author",
    ),
    (
        HUMAN,
        "",
        "Fix\n\nCo-Authored-By: Claude Sonnet 4.5 <noreply@anthropic.com>",
        "claude-code",
        "Claude Sonnet 4.5",
        "co-author",
    ),
    # Cursor: background agents commit as "Cursor Agent"; cursor[bot]; the editor's trailer.
    ("Cursor Agent <cursoragent@cursor.com>", "", "Fix", "cursor", None, "author"),
    ("cursor[bot] <206951365+cursor[bot]@users.noreply.github.com>", "", "Fix", "cursor", None, "author"),
    (HUMAN, "", "Fix\n\nCo-authored-by: Cursor <cursoragent@cursor.com>", "cursor", None, "co-author"),
    # aider.
    ("Dana Dev (aider) <dana@example.com>", "", "Fix", "aider", None, "author"),
    (HUMAN, "", "Fix\n\nCo-authored-by: aider (gpt-4o) <noreply@aider.chat>", "aider", "gpt-4o", "co-author"),
    # Other agents with their own accounts or trailers.
    (
        "Amazon Q Developer <208079219+amazon-q-developer[bot]@users.noreply.github.com>",
        "",
        "x",
        "amazon-q",
        None,
        "author",
    ),
    (
        HUMAN,
        "",
        "x\n\nCo-authored-by: factory-droid[bot] <138933559+factory-droid[bot]@users.noreply.github.com>",
        "factory-droid",
        None,
        "co-author",
    ),
    ("openhands <openhands@all-hands.dev>", "", "Fix", "openhands", None, "author"),
    (
        HUMAN,
        "",
        "x\n\nCo-authored-by: opencode-agent[bot] <opencode-agent[bot]@users.noreply.github.com>",
        "opencode",
        None,
        "co-author",
    ),
    (
        HUMAN,
        "",
        "x\n\nAmp-Thread-ID: https://ampcode.com/threads/T-1\nCo-authored-by: Amp <amp@ampcode.com>",
        "amp",
        None,
        "co-author",
    ),
    ("codegen-sh[bot] <131295404+codegen-sh[bot]@users.noreply.github.com>", "", "x", "codegen", None, "author"),
    ("kiro-agent[bot] <244629292+kiro-agent[bot]@users.noreply.github.com>", "", "x", "kiro", None, "author"),
    # The committer alone: the agent committed a person's change.
    (
        HUMAN,
        "google-labs-jules[bot] <161369871+google-labs-jules[bot]@users.noreply.github.com>",
        "x",
        "jules",
        None,
        "committer",
    ),
    (HUMAN, "Copilot <198982749+Copilot@users.noreply.github.com>", "x", "copilot", None, "committer"),
]


@pytest.mark.parametrize(("author", "committer", "message", "agent", "model", "where"), REAL_SHAPES)
def test_real_agent_shapes(
    author: str, committer: str, message: str, agent: str, model: str | None, where: str
) -> None:
    marks = agent_marks(message, author=author, committer=committer)
    assert [(m.agent, m.model, m.where) for m in marks] == [(agent, model, where)]


def test_every_agent_in_the_table_has_a_real_shape() -> None:
    tested = {shape[3] for shape in REAL_SHAPES} | {"gemini-cli", "unknown-ai", "sweep"}
    assert {rule.agent for rule in RULES} <= tested


def test_every_agent_is_in_the_docs_table() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "attribution.md").read_text(encoding="utf-8")
    table = docs.split("## Agent marks on commits", 1)[1].split("\n## ", 1)[0]
    assert {rule.agent for rule in RULES} <= {row.split("`")[1] for row in table.splitlines() if row.startswith("| `")}


@pytest.mark.parametrize(
    "person",
    [
        "Claude Monet <claude@monet.example>",
        "Devin Nguyen <devin@corp.example>",
        "Ampere Lee <amp@corp.example>",
        "Jules Verne <jules@nautilus.example>",
        "Kiro Tanaka <kiro@corp.example>",
        "GitHub <noreply@github.com>",
        "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>",
        "Dana Dev <1234+dana@users.noreply.github.com>",
    ],
)
def test_people_and_other_bots_are_not_agents(person: str) -> None:
    assert agent_marks(f"Fix\n\nCo-authored-by: {person}\n", author=person, committer=person) == ()


@pytest.mark.parametrize(
    ("author", "committer", "agent"),
    [
        ("Copilot <198982749+Copilot@users.noreply.github.com>", "GitHub <noreply@github.com>", "copilot"),
        (HUMAN, "google-labs-jules[bot] <161369871+google-labs-jules[bot]@users.noreply.github.com>", "jules"),
        ("Devin AI <158243242+devin-ai-integration[bot]@users.noreply.github.com>", HUMAN, "devin"),
    ],
)
def test_agent_accounts_attribute_lines_in_git(repo: Repo, author: str, committer: str, agent: str) -> None:
    repo.write("a.py", lines(2))
    repo.commit("start")
    repo.write("a.py", lines(3))
    name, email = committer.split(" <")
    repo.git("config", "user.name", name)
    repo.git("config", "user.email", email.rstrip(">"))
    repo.commit("agent change", author=author)
    origins = line_origins(repo.root, "a.py")
    assert [(o.kind, o.evidence) for o in origins[:2]] == [("human", "author")] * 2
    assert (origins[2].kind, origins[2].evidence, origins[2].agent) == ("ai", "trailer", agent)


_names = st.sampled_from(["Claude", "Devin", "Jules", "Amp", "Kiro", "Dana", "Sweep", "Droid", "Aider", "Copilot Fan"])
_domains = st.sampled_from(["example.com", "corp.example", "users.noreply.github.com", "gmail.com"])


@settings(max_examples=150, deadline=None)
@given(
    _names, st.from_regex(r"[A-Z][a-z]{1,8}", fullmatch=True), st.from_regex(r"[a-z]{1,8}", fullmatch=True), _domains
)
def test_generated_people_are_never_agents(first: str, last: str, local: str, domain: str) -> None:
    person = f"{first} {last} <{local}@{domain}>"
    assert agent_marks(f"Change\n\nCo-authored-by: {person}\nReviewed-by: {person}\n", author=person) == ()


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([s for s in REAL_SHAPES if s[5] == "co-author"]),
    st.lists(st.sampled_from(["* one", "Signed-off-by: Dana Dev <dana@example.com>", "", "Fixes #3"]), max_size=6),
    st.sampled_from(["Co-authored-by", "Co-Authored-By", "co-authored-by"]),
)
def test_co_author_trailers_are_found_anywhere_in_squash_messages(
    shape: tuple[str, str, str, str, str | None, str], filler: list[str], spelling: str
) -> None:
    trailer = next(line for line in shape[2].splitlines() if line.lower().startswith("co-authored-by:"))
    trailer = spelling + trailer[len("co-authored-by") :]
    message = "Squash\n\n" + "\n".join([*filler, trailer, *filler])
    assert shape[3] in {m.agent for m in agent_marks(message, author=HUMAN)}
