"""SARIF output is valid SARIF 2.1.0 (validated against the official OASIS schema) and GitHub-ready."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from codewitness.checks import CheckContext, run_checks
from codewitness.checks.findings import Finding, with_fingerprints
from codewitness.checks.rules import RULES
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
