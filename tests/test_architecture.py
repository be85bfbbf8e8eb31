"""DESIGN.md's "Who may import whom", held on every import of every module.

Every import statement counts: at the top, inside functions (lazy ones), under ``TYPE_CHECKING``;
relative ones are resolved. A broken rule fails with the offending import named as
``file:line -> target``. The rules:

- ``sensor/`` runs inside other people's processes: it imports the standard library, the
  ``opentelemetry`` API (its OTel exporter, behind the ``otel`` extra) and our light leaf modules
  only (``model``, ``semconv``, ``config``, ``errors``, ``facts``, ``_version``, ``_read``), which themselves
  import only each other and the standard library;
- ``store/`` never imports ``sensor``, ``cli``, ``server``, ``mcp`` or ``views``;
- ``views/`` never imports a face and renders nothing (no ``rich``, no ``typer``);
- the faces (``cli/``, ``server/``, ``mcp.py``) never import each other, no other module imports
  a face (``__main__`` runs the command line), and a face holds no SQL (no ``sqlalchemy``, no
  ``store.schema``);
- ``capture/`` and ``checks/`` never import ``sensor/``;
- no import cycles anywhere.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.imports import SRC, Import, Tree, read_tree

LEAVES = frozenset(
    {
        "codewitness.model",
        "codewitness.semconv",
        "codewitness.config",
        "codewitness.errors",
        "codewitness.facts",
        "codewitness._version",
        "codewitness._read",
    }
)
#: Not the standard library, yet allowed in the sensor: the OpenTelemetry API (extra ``otel``).
SENSOR_THIRD_PARTY = frozenset({"opentelemetry"})
FACES = ("codewitness.cli", "codewitness.server", "codewitness.mcp")
RENDERERS = frozenset({"rich", "typer"})


def within(name: str, *packages: str) -> bool:
    """Whether module ``name`` is one of ``packages`` or inside one."""
    return any(name == p or name.startswith(p + ".") for p in packages)


def face_of(name: str) -> str | None:
    return next((face for face in FACES if within(name, face)), None)


def _stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names or name == "__future__"


def broken_rule(i: Import) -> str | None:
    """Why the import ``i`` is forbidden, or ``None``."""
    source, target = i.source, i.target
    ours = within(target, "codewitness")
    if within(source, "codewitness.sensor"):
        if ours and not (target in LEAVES or within(target, "codewitness.sensor")):
            return "the sensor imports only the standard library and " + ", ".join(sorted(LEAVES))
        if not ours and not _stdlib(target) and target.split(".")[0] not in SENSOR_THIRD_PARTY:
            return "the sensor imports only the standard library (and the OpenTelemetry API)"
    if source in LEAVES and ((ours and target not in LEAVES) or (not ours and not _stdlib(target))):
        return "a leaf the sensor imports imports only other leaves and the standard library"
    if within(source, "codewitness.store") and within(target, "codewitness.sensor", *FACES, "codewitness.views"):
        return "the store never imports the sensor, a face or views"
    if within(source, "codewitness.views") and (face_of(target) or target.split(".")[0] in RENDERERS):
        return "a view never imports a face and renders nothing"
    target_face, source_face = face_of(target), face_of(source)
    if target_face and target_face != source_face and source != "codewitness.__main__":
        if source_face is not None:
            return "one face never imports another"
        return "no stage or view imports a face (only __main__ runs the command line)"
    if source_face and (target.split(".")[0] == "sqlalchemy" or target == "codewitness.store.schema"):
        return "a face holds no SQL: it calls a view or the store"
    if within(source, "codewitness.capture", "codewitness.checks") and within(target, "codewitness.sensor"):
        return "capture and checks never import the sensor"
    return None


def violations(tree: Tree) -> list[str]:
    """Every forbidden import of the tree, then every import cycle, as lines naming the imports."""
    found = [
        f"{i.path.relative_to(tree.root.parent)}:{i.line} -> {i.target}: {reason}"
        for imports in tree.imports.values()
        for i in imports
        if (reason := broken_rule(i)) is not None
    ]
    for cycle in tree.cycles():
        steps = ", ".join(f"{i.path.relative_to(tree.root.parent)}:{i.line} -> {i.target}" for i in cycle)
        found.append(f"import cycle: {steps}")
    return found


def test_the_tree_keeps_the_import_rules() -> None:
    tree = read_tree(SRC)
    assert "codewitness.sensor._lifecycle" in tree.files and len(tree.files) > 100
    assert violations(tree) == []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of our source tree to break on purpose."""
    root = tmp_path / "codewitness"
    shutil.copytree(SRC, root, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    return root


def rules_broken(tree: Tree) -> list[str]:
    """The violations but cycles (an import added on purpose may close one as well)."""
    return [found for found in violations(tree) if not found.startswith("import cycle: ")]


def _add(path: Path, text: str) -> int:
    """Append ``text`` to the module at ``path``; the line number where it starts."""
    before = path.read_text(encoding="utf-8")
    path.write_text(before + text, encoding="utf-8")
    return before.count("\n") + 1


def test_a_lazy_import_of_the_store_in_the_sensor_is_named(copy: Path) -> None:
    lazy = "\n\ndef _later() -> None:\n    from codewitness.store import open_store\n"
    line = _add(copy / "sensor" / "_probe.py", lazy)
    assert violations(read_tree(copy)) == [
        f"codewitness/sensor/_probe.py:{line + 3} -> codewitness.store: the sensor imports only the standard"
        " library and codewitness._read, codewitness._version, codewitness.config, codewitness.errors,"
        " codewitness.facts, codewitness.model, codewitness.semconv"
    ]


def test_a_relative_import_of_a_plug_in_under_type_checking_is_named(copy: Path) -> None:
    text = "\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..invariants import registry\n"
    line = _add(copy / "sensor" / "_lifecycle.py", text)
    (found,) = violations(read_tree(copy))
    assert found.startswith(f"codewitness/sensor/_lifecycle.py:{line + 3} -> codewitness.invariants.registry: ")


def test_the_sensor_importing_the_top_package_or_a_third_party_module_is_named(copy: Path) -> None:
    line = _add(copy / "sensor" / "meter.py", "\nimport codewitness\nimport sqlalchemy\nimport opentelemetry.trace\n")
    found = rules_broken(read_tree(copy))
    assert [f.split(": ")[0] for f in found] == [
        f"codewitness/sensor/meter.py:{line + 1} -> codewitness",
        f"codewitness/sensor/meter.py:{line + 2} -> sqlalchemy",
    ]


def test_a_leaf_the_sensor_imports_stays_a_leaf(copy: Path) -> None:
    line = _add(copy / "facts.py", "\ndef _later() -> None:\n    import codewitness.attribution.blame\n")
    assert [f.split(": ")[0] for f in violations(read_tree(copy))] == [
        f"codewitness/facts.py:{line + 2} -> codewitness.attribution.blame"
    ]


@pytest.mark.parametrize(
    ("where", "text", "reason"),
    [
        ("store/queries.py", "from codewitness.views import runtime", "the store never imports"),
        ("store/runtime.py", "import codewitness.sensor.export", "the store never imports"),
        ("views/runtime.py", "from codewitness.cli._common import out", "a view never imports a face"),
        ("views/runtime.py", "import rich.table", "a view never imports a face"),
        ("cli/demo.py", "import codewitness.server.app", "one face never imports another"),
        ("cli/demo.py", "from sqlalchemy import select", "a face holds no SQL"),
        ("ledger/_links.py", "from codewitness.cli import main", "no stage or view imports a face"),
        ("capture/journal.py", "from codewitness.sensor import snapshot", "capture and checks never import"),
        ("checks/deps.py", "from ..sensor._select import Target", "capture and checks never import"),
    ],
)
def test_each_rule_names_the_import_that_breaks_it(copy: Path, where: str, text: str, reason: str) -> None:
    line = _add(copy / where, f"\n\ndef _later() -> None:\n    {text}\n")
    found = rules_broken(read_tree(copy))
    assert len(found) == 1, found
    assert found[0].startswith(f"codewitness/{where}:{line + 3} -> ") and reason in found[0]


def test_a_cycle_is_named_by_the_imports_that_close_it(copy: Path) -> None:
    lazy = "\n\ndef _later() -> None:\n    from codewitness.sensor import aggregate\n"
    line = _add(copy / "sensor" / "meter.py", lazy)
    (found,) = violations(read_tree(copy))
    assert found.startswith("import cycle: ")
    assert f"codewitness/sensor/meter.py:{line + 3} -> codewitness.sensor.aggregate" in found
    assert "codewitness/sensor/aggregate.py:" in found and "-> codewitness.sensor.meter" in found


def test_the_reader_resolves_relative_imports_and_sees_every_place(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "leaf.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import mod\n")
    (package / "sub" / "mod.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from .. import leaf\n"
        "from ..leaf import name\n"
        "if TYPE_CHECKING:\n"
        "    from pkg.sub import thing\n"
        "class K:\n"
        "    def f(self):\n"
        "        import json.decoder\n"
    )
    tree = read_tree(package)
    assert [(i.line, i.target) for i in tree.imports["pkg.sub.mod"]] == [
        (1, "typing"),
        (2, "pkg.leaf"),
        (3, "pkg.leaf"),
        (5, "pkg.sub"),
        (8, "json.decoder"),
    ]
    assert [i.target for i in tree.imports["pkg.sub"]] == ["pkg.sub.mod"]
    assert [[str(i.target) for i in cycle] for cycle in tree.cycles()] == [["pkg.sub.mod", "pkg.sub"]]
