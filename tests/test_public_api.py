"""The public surface is small and pinned: changing it is a decision, not an accident."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import codewitness
from codewitness.errors import CodewitnessError, ConfigError, InputError, NotFoundError, UsageError


def test_all_is_pinned_and_sorted() -> None:
    assert codewitness.__all__ == [
        "InvariantViolation",
        "Sensor",
        "__version__",
        "ensure",
        "flush",
        "init",
        "record_generation",
        "require",
        "returns",
        "shutdown",
    ]
    assert codewitness.__all__ == sorted(codewitness.__all__)
    for name in codewitness.__all__:
        assert getattr(codewitness, name) is not None


def test_exit_codes_of_the_error_tree() -> None:
    assert CodewitnessError.exit_code == 1
    assert NotFoundError.exit_code == 1
    assert UsageError.exit_code == ConfigError.exit_code == InputError.exit_code == 2


def test_record_generation_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    kwargs = {"model": "m", "prompt": "p", "output": "o", "params": {"temperature": 0.1}, "database": url}
    first = codewitness.record_generation(**kwargs, files=["a.py:1-3"])  # type: ignore[arg-type]
    assert codewitness.record_generation(**kwargs) == first  # type: ignore[arg-type]
    assert codewitness.record_generation(**{**kwargs, "params": {"temperature": 0.2}}) != first  # type: ignore[arg-type]


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"codewitness {codewitness.__version__}"


def test_the_package_is_typed() -> None:
    assert (Path(codewitness.__file__).parent / "py.typed").is_file()


def test_init_refuses_an_option_it_does_not_know() -> None:
    from codewitness.sensor import active

    with pytest.raises(TypeError, match="unexpected keyword argument 'spool'"):
        codewitness.init(service="x", spool="/tmp/nowhere")  # type: ignore[call-arg]
    assert active() is None
