"""``codewitness demo``: the whole story on a small project, in a folder you can explore afterwards.

Each capability adds one step to :data:`STEPS`; a step gets the demo project folder and the
open store, prints what it shows (stderr) and returns facts for the ``--json`` summary.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codewitness.cli._common import console, emit_json
from codewitness.model import FileRange, Generation, utcnow

if TYPE_CHECKING:
    from codewitness.store import Store

Step = Callable[[Path, "Store"], dict[str, Any]]

_PROMPT_V1 = """You are writing shop/pricing.py.
Write total(items) returning the cart total in cents: the sum of price * quantity.
"""
_PROMPT_V2 = """You are writing shop/pricing.py.
Write total(items) returning the cart total in cents: the sum of price * quantity,
minus a 10% discount on orders over 100 EUR, rounded half-up.
"""
_OUTPUT_V1 = """def total(items):
    return sum(item.price * item.quantity for item in items)
"""
_OUTPUT_V2 = """def total(items):
    gross = sum(item.price * item.quantity for item in items)
    if gross > 10_000:
        gross = round(gross * 0.9)
    return gross
"""


def step_ledger(root: Path, store: Store) -> dict[str, Any]:
    """An API pipeline records three generations under one managed prompt that changes once."""
    from codewitness import ledger

    console.rule("[bold]1. The generation ledger")
    records = [
        Generation.create(
            agent="api",
            model="claude-sonnet-4-5-20250929",
            prompt=_PROMPT_V1,
            output=_OUTPUT_V1,
            params={"temperature": 0.2},
            prompt_name="pricing",
            files=(FileRange("shop/pricing.py", 1, 2),),
            created_at=utcnow(),
        ),
        Generation.create(
            agent="api",
            model="claude-sonnet-4-5-20250929",
            prompt=_PROMPT_V1,
            output=_OUTPUT_V1,
            params={"temperature": 0.2},
            prompt_name="pricing",
            created_at=utcnow(),
        ),
        Generation.create(
            agent="api",
            model="claude-sonnet-4-5-20250929",
            prompt=_PROMPT_V2,
            output=_OUTPUT_V2,
            params={"temperature": 0.2},
            prompt_name="pricing",
            files=(FileRange("shop/pricing.py", 1, 5),),
            created_at=utcnow(),
        ),
    ]
    ids = []
    for number, generation in enumerate(records, 1):
        stored = ledger.record(store, generation, prompt_label=f"r{number}")
        ids.append(stored.id)
        console.print(f"recorded {stored.id}  prompt pricing@{stored.prompt_version}")
    console.print(f"the second recording was the same content: same id ({ids[0] == ids[1]}), one row")
    history = ledger.prompt_history(store, "pricing")
    console.print(f"prompt 'pricing' has {len(history)} versions; what changed between them:")
    console.print(ledger.prompt_diff(store, "pricing@1", "pricing@2"), markup=False, highlight=False)
    return {"generations": sorted(set(ids)), "prompt_versions": len(history)}


#: The demo's steps, in order. Later capabilities append theirs.
STEPS: list[Step] = [step_ledger]


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command."""
    app.command("demo")(demo)


def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Build the demo project here (an empty or new folder); a temp folder by default."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
) -> None:
    """Run every capability on a small AI-written project and show what each one answers."""
    from codewitness.errors import InputError
    from codewitness.store import open_store

    root = directory or Path(tempfile.mkdtemp(prefix="codewitness-demo-"))
    if root.exists() and any(root.iterdir()):
        raise InputError(f"{root} is not empty; give --dir a new or empty folder")
    root.mkdir(parents=True, exist_ok=True)
    (root / "codewitness.toml").write_text("# demo project: the store lives in .codewitness/\n", encoding="utf-8")
    url = f"sqlite:///{root.resolve() / '.codewitness' / 'witness.db'}"
    summary: dict[str, Any] = {"project": str(root.resolve()), "database": url}
    with open_store(url) as store:
        for step in STEPS:
            summary[step.__name__.removeprefix("step_")] = step(root, store)
    console.rule()
    console.print(f"demo project: {root.resolve()}")
    console.print(f"explore it:   cd {root.resolve()} && codewitness generations list")
    if as_json:
        emit_json(summary)
