"""Prompt drift: does the code a pipeline generates from each version of a prompt still behave as pinned?

A code-generation pipeline is given by its command, with ``{prompt}`` (a file holding the prompt
version's text, from the ledger) and ``{output}`` (the module file it must write)::

    codewitness drift check --prompt invoice-rounding --all-versions \\
        --generate "python gen.py {prompt} {output}" --function billing:round_total --baseline v1

For each version asked for, the command runs (no shell: the words are split, then the two fields
filled in), the output is recorded in the ledger as a generation of that prompt version, the
function is loaded from the output file in its own process (the project's modules importable
beside it), and every input pinned in the baseline for that function is replayed on it and
compared with its pinned outcome. ``--all-versions`` walks the prompt's history in order and names
the first version whose behaviour changed (more than ``--threshold`` of the inputs differ).

Example:
    >>> report = drift_check(store, root, prompt="invoice-rounding", all_versions=True, ...)  # doctest: +SKIP
    >>> report.first_changed  # doctest: +SKIP
    3
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness.behavior.compare import Rules
from codewitness.behavior.replay import Case, FunctionReport, judge, limits_of, normalise, run_side, tally
from codewitness.behavior.sides import Side
from codewitness.errors import InputError

if TYPE_CHECKING:
    from codewitness.config import BehaviorSection
    from codewitness.store import Store

__all__ = ["DriftReport", "VersionResult", "drift_check"]


@dataclass
class VersionResult:
    """One prompt version: the generation it produced and how the baseline's inputs fared on it."""

    version: int
    label: str | None
    generation_id: str | None
    report: FunctionReport
    error: str | None = None

    def share(self) -> float:
        """The share of compared inputs that differ from the baseline."""
        compared = self.report.equal + self.report.differing
        return self.report.differing / compared if compared else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "version": self.version,
            "label": self.label,
            "generation_id": self.generation_id,
            "error": self.error,
            "share": round(self.share(), 6),
            **self.report.to_dict(),
        }


@dataclass
class DriftReport:
    """A drift check over one or more prompt versions."""

    prompt: str
    function: str
    baseline: str
    threshold: float
    versions: list[VersionResult] = field(default_factory=list)
    seconds: float = 0.0

    def changed(self, v: VersionResult) -> bool:
        """Whether a version's behaviour changed: more than the threshold of its inputs differ."""
        return v.error is None and v.report.differing > 0 and v.share() > self.threshold

    @property
    def first_changed(self) -> int | None:
        """The first version (in history order) whose behaviour changed."""
        return next((v.version for v in self.versions if self.changed(v)), None)

    @property
    def exit_code(self) -> int:
        """1 when a version's behaviour changed, or a version could not be generated or checked."""
        return 1 if self.first_changed is not None or any(v.error for v in self.versions) else 0

    def to_dict(self) -> dict[str, Any]:
        """The ``drift check --json`` document."""
        return {
            "prompt": self.prompt,
            "function": self.function,
            "baseline": self.baseline,
            "threshold": self.threshold,
            "first_changed": self.first_changed,
            "versions": [v.to_dict() for v in self.versions],
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
        }


def _generate(command: str, prompt_file: Path, output: Path, cwd: Path, timeout: float) -> str | None:
    """Run the generator; ``None`` when it wrote the output, else why not."""
    words = [w.replace("{prompt}", str(prompt_file)).replace("{output}", str(output)) for w in shlex.split(command)]
    try:
        proc = subprocess.run(words, cwd=cwd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"the generator took longer than {timeout:g} s"
    except OSError as exc:
        return f"the generator cannot be run ({words[0]}: {exc.strerror})"
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        return f"the generator exited {proc.returncode}" + (f": {lines[-1][:300]}" if lines else "")
    if not output.is_file():
        return f"the generator exited 0 without writing {output.name}"
    return None


def drift_check(
    store: Store,
    root: Path,
    *,
    prompt: str,
    generate: str,
    function: str,
    baseline: str,
    settings: BehaviorSection,
    all_versions: bool = False,
    model: str = "unknown",
    threshold: float = 0.0,
    generator_timeout: float = 600.0,
) -> DriftReport:
    """Generate the module from each asked prompt version and replay the baseline on it (see above).

    Raises:
        InputError: the function is not ``MODULE:QUALNAME``, the command lacks ``{output}``, a
            version is given with ``--all-versions``, or the baseline has no case for the function.
        NotFoundError: no such prompt, version or baseline.
    """
    from codewitness import ledger
    from codewitness.capture.api import record
    from codewitness.store.behavior import baseline as get_baseline
    from codewitness.store.behavior import baseline_cases

    started = time.monotonic()
    if ":" not in function:
        raise InputError(
            f"--function names the generated module and the function in it: MODULE:QUALNAME, not {function!r}"
        )
    module, _, qualname = function.partition(":")
    if "{output}" not in generate:
        raise InputError("--generate must say where the module goes: put {output} in the command")
    if all_versions and "@" in prompt:
        raise InputError("--all-versions walks every version: name the prompt without @VERSION")
    versions = ledger.prompt_history(store, prompt) if all_versions else [ledger.resolve_prompt(store, prompt)]
    get_baseline(store, baseline)
    name = normalise(function)
    cases = [
        Case(row["id"], name, row["input_hash"], row["input"], row["arguments"], row["outcome"])
        for row in baseline_cases(store, baseline, [name])
    ]
    if not cases:
        raise InputError(f"baseline {baseline!r} has no inputs of {name}; pin one with `codewitness baseline pin`")
    rules = Rules.from_config(settings)
    limits = limits_of(settings)
    report = DriftReport(prompt=versions[0].name, function=name, baseline=baseline, threshold=threshold)
    for version in versions:
        result = VersionResult(version.version, version.label, None, FunctionReport(name))
        report.versions.append(result)
        with tempfile.TemporaryDirectory(prefix="codewitness-drift-") as scratch:
            prompt_file = Path(scratch, "prompt.txt")
            prompt_file.write_text(version.text, "utf-8")
            output = Path(scratch, "out", module.rsplit(".", 1)[-1] + ".py")
            output.parent.mkdir()
            problem = _generate(generate, prompt_file, output, root, generator_timeout)
            if problem is not None:
                result.error = problem
                continue
            code = output.read_text("utf-8", "replace")
            generation = record(
                store,
                model=model,
                prompt=version.text,
                output=code,
                prompt_name=version.name,
                params={"source": "codewitness drift check"},
            )
            result.generation_id = generation.id
            side = Side(root=root, commit=None, label=f"{version.name}@{version.version}")
            runs = run_side(side, cases, limits, settings.repeat, file=(output, module, qualname))
            for case in cases:
                assert case.expected is not None
                verdict = judge(case, [case.expected], runs[case.id], rules, f"baseline {baseline}", side.label)
                tally(result.report, verdict, settings.shown)
            errors = result.report.errors
            if errors and not result.report.replayed:
                result.error = next(iter(errors))
    report.seconds = time.monotonic() - started
    return report
