"""SARIF output is valid SARIF 2.1.0 (validated against the official OASIS schema) and GitHub-ready."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.checks import CheckContext, run_checks
from codewitness.checks.findings import Finding, GenerationRef, with_fingerprints
from codewitness.checks.markdown import to_markdown
from codewitness.checks.rules import RULES
from codewitness.checks.runner import Report
from codewitness.checks.sarif import to_sarif

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
CORPUS = Path(__file__).parent / "corpus"


def validate(doc: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(doc)


def test_corpus_report_is_valid_sarif():
    report = run_checks(CheckContext.build(CORPUS), families=("apis", "security"))
    doc = to_sarif(report.findings)
    validate(json.loads(json.dumps(doc)))
    results = doc["runs"][0]["results"]
    assert len(results) == len(report.findings) > 10
    for result in results:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/") and uri.endswith(".py")  # repo-relative
        assert len(result["partialFingerprints"]["codewitness/v1"]) == 32
        assert "ai_authored" in result["properties"]
        assert doc["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_every_rule_is_described_and_ai_flag_travels():
    finding = with_fingerprints(
        [
            Finding(
                "CW101",
                "requirements.txt",
                3,
                "pypi package 'x' does not exist",
                ai_authored=True,
                properties={"package": "x", "when": object()},
            )
        ]
    )
    doc = to_sarif(finding)
    validate(doc)
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RULES]
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    result = doc["runs"][0]["results"][0]
    assert result["properties"]["ai_authored"] is True and result["level"] == "error"


def test_a_broken_document_fails_validation():
    doc = to_sarif([])
    doc["runs"][0]["results"] = [{"ruleId": "CW101", "level": "fatal", "message": {"text": "x"}}]
    try:
        validate(doc)
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema must reject level 'fatal'")


# -- findings that name their code --------------------------------------------------------------

_text = st.text(min_size=1, max_size=30)
_MODULE = r"[a-z_][a-z0-9_]{0,8}(\.[a-z_][a-z0-9_]{0,8}){0,3}"
_QUALNAME = r"[A-Za-z_]\w{0,8}(\.(<locals>|[A-Za-z_]\w{0,8})){0,3}"
_generations = st.builds(
    GenerationRef,
    id=st.one_of(st.none(), st.from_regex(r"gen_[0-9a-f]{20}", fullmatch=True)),
    agent=st.one_of(st.none(), _text),
    model=st.one_of(st.none(), _text),
    prompt_name=st.one_of(st.none(), _text),
    prompt_version=st.one_of(st.none(), st.integers(1, 10_000)),
    prompt_sha256=st.one_of(st.none(), st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
)


@settings(max_examples=100, deadline=None)
@given(
    module=st.one_of(st.none(), st.from_regex(_MODULE, fullmatch=True)),
    qualname=st.one_of(st.none(), st.from_regex(_QUALNAME, fullmatch=True)),
    generations=st.lists(_generations, max_size=3).map(tuple),
    ai=st.sampled_from([True, False, None]),
    message=st.text(max_size=60),
)
def test_any_finding_with_code_facts_is_valid_sarif_and_one_markdown_row(
    module: str | None, qualname: str | None, generations: tuple[GenerationRef, ...], ai: bool | None, message: str
) -> None:
    finding = with_fingerprints(
        [
            Finding(
                "CW307",
                "pkg/a.py",
                7,
                message,
                ai_authored=ai,
                module=module,
                qualname=qualname,
                generations=generations,
            )
        ]
    )
    doc = json.loads(json.dumps(to_sarif(finding)))
    validate(doc)
    (result,) = doc["runs"][0]["results"]
    logical = result["locations"][0].get("logicalLocations")
    if module and qualname:
        assert logical == [
            {"name": qualname.rsplit(".", 1)[-1], "fullyQualifiedName": f"{module}.{qualname}", "kind": "function"}
        ]
    else:
        assert logical is None
    assert result["properties"].get("generation_ids", []) == [g.id for g in generations if g.id]
    text = to_markdown(Report(findings=finding))
    rows = [line for line in text.splitlines() if line.startswith("| ") and "CW307" in line]
    assert len(rows) == 1  # nothing in a name or message breaks the table
    cells = rows[0].replace("\\|", "").split("|")
    assert len(cells) == 7
    if ai and generations:
        assert all((g.id or "unrecorded") in rows[0] for g in generations)


def test_a_hostile_model_name_from_a_note_stays_inert_in_markdown() -> None:
    hostile = GenerationRef("gen_" + "0" * 20, agent="x", model="`<img src=x onerror=alert(1)>` | [link](http://e.test)")
    finding = with_fingerprints(
        [Finding("CW307", "a.py", 3, "m", ai_authored=True, qualname="f", generations=(hostile,))]
    )
    row = next(line for line in to_markdown(Report(findings=finding)).splitlines() if "CW307" in line)
    assert "`'<img src=x onerror=alert(1)>' \\| [link](http://e.test)`" in row
    assert row.count("|") - row.count("\\|") == 6


def test_a_line_only_a_trailer_vouches_for_names_the_agent_without_an_id() -> None:
    ref = GenerationRef(None, agent="claude-code", model="claude-opus-4-5")
    assert ref.to_dict() == {"id": None, "agent": "claude-code", "model": "claude-opus-4-5", "prompt": None}
    finding = with_fingerprints([Finding("CW307", "a.py", 3, "m", ai_authored=True, generations=(ref,))])
    row = next(line for line in to_markdown(Report(findings=finding)).splitlines() if "CW307" in line)
    assert "yes: unrecorded `claude-code` edit (`claude-opus-4-5`)" in row
    assert to_sarif(finding)["runs"][0]["results"][0]["properties"]["generation_ids"] == []
    assert ref.label() == "unrecorded claude-code edit (claude-opus-4-5)"
