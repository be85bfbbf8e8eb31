"""``codewitness config``: the effective configuration and where each value came from."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from codewitness.cli._common import emit_json, get_config, out, styled, table
from codewitness.config import env_name, env_settable, plain_value, settings_table


def register(app: typer.Typer) -> None:
    """Add the ``config`` command."""
    app.command("config")(config)


def config(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Print the effective configuration and the source of every value."""
    loaded = get_config()
    rows = settings_table(loaded.config)
    if as_json:
        emit_json(
            {
                "root": str(loaded.root),
                "files": [str(f) for f in loaded.files],
                "database_url": loaded.database_url,
                "settings": {
                    key: {
                        "value": plain_value(value),
                        "source": loaded.sources.get(key, "default"),
                        "env": env_name(key) if env_settable(key) else None,
                    }
                    for key, value, _ in rows
                },
            }
        )
        return
    out.print(f"project root: {loaded.root}")
    out.print(f"files read: {', '.join(str(f) for f in loaded.files) or 'none'}")
    table(
        ["setting", "value", "source", "meaning"],
        [
            [
                key,
                _shown(value) if value not in ("", (), None) else styled(("(empty)", "dim")),
                loaded.sources.get(key, "default"),
                meaning,
            ]
            for key, value, meaning in rows
        ],
        no_wrap=("setting",),
    )
    out.print(f"database in use: {loaded.database_url}")


def _shown(value: object) -> str:
    """A value as a person writes it in TOML: text as it is, lists and rules as JSON."""
    return value if isinstance(value, str) else json.dumps(plain_value(value), ensure_ascii=False)
