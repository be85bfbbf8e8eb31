"""Invariants riding on the sensor (the invariants plug-in), on every backend, through to the store and CLI."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import codewitness
import codewitness.sensor
from codewitness import invariants
from codewitness.cli import main
from codewitness.errors import InvariantViolation


@pytest.fixture(autouse=True)
def _restore_mode() -> Iterator[None]:
    before = invariants.default_mode()
    yield
    invariants.set_default_mode(before)


def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rules: str) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / ".git").mkdir()
    (root / "codewitness.toml").write_text('[sensor]\nspool_dir = ""\ninterval = 60\n' + rules)
    monkeypatch.chdir(root)
    invariants.set_default_mode("record")
    return root


def start(app: Any, backend: str, exporter: Any) -> Any:
    with pytest.MonkeyPatch.context() as env:
        if backend.endswith("/py"):  # the pure-Python meter; the project's configuration otherwise
            env.setenv("CODEWITNESS_SENSOR_SPEEDUPS", "false")
        sensor = codewitness.init(
            service="shop", manifest=app.manifest(), exporters=[exporter], backend=backend.removesuffix("/py")
        )
    assert sensor is not None
    return sensor


def test_a_config_rule_captures_the_breach_with_inputs_and_generation(
    app: Any, backend: str, memory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(
        tmp_path,
        monkeypatch,
        f'[[invariants]]\nfunction = "{app.module}:add"\nensure = "result >= a"\nname = "grows"\n',
    )
    exporter = memory
    sensor = start(app, backend, exporter)
    svc = importlib.import_module(app.module)
    assert svc.add(2, 3) == 5
    assert svc.add(5, -1) == 4, "record mode: the host gets its normal result"
    sensor.flush()
    breaches = exporter.of("breach")
    assert len(breaches) == 1
    breach = breaches[0]
    assert breach["function"] == f"{app.module}.add"
    assert breach["arguments"] == {"a": 5, "b": -1} and breach["result"] == 4
    assert breach["rule"] == "grows" and breach["expression"] == "result >= a"
    assert breach["generation_ids"] == ["gen_00000000000000000001"] and breach["models"] == ["claude-sonnet-4-5"]
    counts = [r for r in exporter.of("invariant") if r["rule"] == "grows"]
    assert [(c["passed"], c["breached"], c["errors"]) for c in counts] == [(1, 1, 0)]
    assert exporter.calls(f"{app.module}.add") == 2


def test_raise_mode_reaches_the_caller_on_every_backend(
    app: Any, backend: str, memory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(
        tmp_path,
        monkeypatch,
        f'[[invariants]]\nfunction = "{app.module}:Cart.add_item"\nensure = "result <= 2"\nmode = "raise"\n'
        f'[[invariants]]\nfunction = "{app.module}:divide"\nrequire = "b != 0"\nmode = "raise"\n',
    )
    start(app, backend, memory)
    svc = importlib.import_module(app.module)
    cart = svc.Cart("dana")
    assert cart.add_item("a") == 1
    assert cart.add_item("b") == 2
    with pytest.raises(InvariantViolation, match=r"Cart\.add_item.*result=3"):
        cart.add_item("c")
    # A require rule is checked by the sensor after the call: the call's own error comes first.
    with pytest.raises(ZeroDivisionError):
        svc.divide(1, 0)


def test_a_rule_naming_a_missing_parameter_is_not_bound(
    app: Any,
    backend: str,
    memory: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project(tmp_path, monkeypatch, f'[[invariants]]\nfunction = "{app.module}:add"\nensure = "result > total"\n')
    exporter = memory
    with caplog.at_level(logging.WARNING, logger="codewitness.invariants"):
        sensor = start(app, backend, exporter)
        svc = importlib.import_module(app.module)
        assert svc.add(1, 1) == 2
    sensor.flush()
    assert "has no parameter total" in caplog.text
    assert exporter.of("breach") == []


def test_init_skips_a_bad_expression_and_keeps_the_service_running(
    app: Any,
    backend: str,
    memory: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project(
        tmp_path,
        monkeypatch,
        f"[[invariants]]\nfunction = \"{app.module}:add\"\nensure = \"__import__('os').system('true')\"\n"
        f'[[invariants]]\nfunction = "{app.module}:add"\nensure = "result == a + b"\nname = "sums"\n',
    )
    exporter = memory
    with caplog.at_level(logging.ERROR, logger="codewitness"):
        sensor = start(app, backend, exporter)
    svc = importlib.import_module(app.module)
    assert svc.add(2, 2) == 4
    sensor.flush()
    assert "invariant skipped" in caplog.text and "not allowed" in caplog.text
    assert [(c["rule"], c["passed"]) for c in exporter.of("invariant")] == [("sums", 1)]


def test_init_never_raises_for_a_rule_too_deep_to_compile(
    app: Any,
    backend: str,
    memory: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Within the 2000-character limit, and deep enough to exhaust the recursion limit of anything
    # that walks the expression recursively.
    deep = "-" * 1990 + "a"
    project(tmp_path, monkeypatch, f'[[invariants]]\nfunction = "{app.module}:add"\nensure = "{deep} < 0"\n')
    with caplog.at_level(logging.ERROR, logger="codewitness"):
        sensor = start(app, backend, memory)  # no exception reaches the service
    svc = importlib.import_module(app.module)
    assert svc.add(2, 2) == 4
    sensor.flush()
    assert memory.calls(f"{app.module}.add") == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("invariants[0]" in e or "RecursionError" in e for e in errors), errors


def test_decorator_breaches_carry_the_origin_when_the_sensor_runs(
    app: Any, backend: str, memory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path, monkeypatch, "")
    module = app.write(
        "pricing",
        """
        import codewitness

        @codewitness.ensure(lambda result, price: result <= price, name="discount_never_raises_price")
        def discounted(price, pct):
            return price * (1 - pct)
        """,
    )
    exporter = memory
    manifest = app.manifest()
    from dataclasses import replace

    extra = replace(
        manifest.functions[0], module=module, qualname="discounted", generation_ids=("gen_pricing0000000001",)
    )
    sensor = codewitness.init(
        service="shop",
        manifest=replace(manifest, functions=(*manifest.functions, extra)),
        exporters=[exporter],
        backend=backend,
    )
    assert sensor is not None
    pricing = importlib.import_module(module)
    assert pricing.discounted(100, -0.1) == pytest.approx(110.0)
    sensor.flush()
    (breach,) = exporter.of("breach")
    assert breach["rule"] == "discount_never_raises_price"
    assert breach["generation_ids"] == ["gen_pricing0000000001"]
    assert breach["arguments"] == {"price": 100, "pct": -0.1}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("ensure = \"__import__('os')\"", "not allowed"),
        ('ensure = "result.__class__"', "not allowed"),
        ('ensure = "sum(1 for a in x for b in x) >"', "not a valid expression"),
        ('require = "result > 0"', "cannot use 'result'"),
        ('ensure = "x > 0"\nrequire = "y > 0"', "exactly one"),
    ],
)
def test_invariants_and_run_refuse_bad_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], rule: str, message: str
) -> None:
    project(tmp_path, monkeypatch, f'[[invariants]]\nfunction = "shop.pricing:total"\n{rule}\n')
    capsys.readouterr()
    assert main(["invariants"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "run", "--", sys.executable, "-c", "print('app ran')"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and message in proc.stderr and "app ran" not in proc.stdout
