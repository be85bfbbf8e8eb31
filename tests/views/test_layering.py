"""Views read and never render; faces hold no SQL. Checked on every import, lazy ones included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "codewitness"
FACES = ("codewitness.cli", "codewitness.server", "codewitness.mcp")


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at any depth of its code (``TYPE_CHECKING`` blocks too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((SRC / folder).glob("*.py"))


@pytest.mark.parametrize("path", _modules("views"), ids=lambda p: p.name)
def test_a_view_never_imports_a_face_or_a_renderer(path: Path) -> None:
    bad = [(n, m) for n, m in imports(path) if m.startswith(FACES) or m.split(".")[0] in ("rich", "typer")]
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", _modules("cli"), ids=lambda p: p.name)
def test_a_command_holds_no_sql(path: Path) -> None:
    bad = [(n, m) for n, m in imports(path) if m.split(".")[0] == "sqlalchemy" or m == "codewitness.store.schema"]
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize(
    "path", sorted((SRC / "server").rglob("*.py")), ids=lambda p: str(p.relative_to(SRC / "server"))
)
def test_the_server_holds_no_sql_and_imports_no_other_face(path: Path) -> None:
    bad = [
        (n, m)
        for n, m in imports(path)
        if m.split(".")[0] == "sqlalchemy"
        or m == "codewitness.store.schema"
        or m.startswith(("codewitness.cli", "codewitness.mcp"))
    ]
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", _modules("store"), ids=lambda p: p.name)
def test_the_store_never_imports_views_or_faces(path: Path) -> None:
    bad = [(n, m) for n, m in imports(path) if m.startswith((*FACES, "codewitness.views"))]
    assert not bad, f"{path.name} imports {bad}"


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from codewitness.cli._common import out\n    import rich.table\n")
    assert imports(sample) == [(2, "codewitness.cli._common"), (2, "codewitness.cli._common.out"), (3, "rich.table")]
