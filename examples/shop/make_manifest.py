"""Write the shop's manifest by hand: which functions an agent wrote, and with which model.

In a real project ``codewitness manifest`` derives this from git notes at build time; the example
keeps its own so it runs anywhere. ``python make_manifest.py`` writes ``.codewitness/manifest.json``
in the current folder; tests and benchmarks call :func:`build`.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from codewitness.model import Manifest, ManifestFunction, generation_id  # noqa: E402

MODEL = "claude-sonnet-4-5"
#: (module, qualname, share of the function's lines the agent wrote)
AI_WRITTEN: tuple[tuple[str, str, float], ...] = (
    ("shop.pricing", "PriceBook.default", 1.0),
    ("shop.pricing", "PriceBook.round_money", 1.0),
    ("shop.pricing", "PriceBook.unit_price", 1.0),
    ("shop.pricing", "PriceBook.line_totals", 1.0),
    ("shop.pricing", "discount", 1.0),
    ("shop.pricing", "quote", 0.8),
    ("shop.pricing", "exchange_rate", 1.0),
    ("shop.checkout", "place_order", 1.0),
)


def build(revision: str = "example") -> Manifest:
    """The manifest of the example shop (line spans read from the source as it is now)."""
    gen = generation_id(
        model=MODEL, prompt="Write the shop's pricing and checkout.", params={}, output="shop"
    )
    functions = []
    for module_name, qualname, share in AI_WRITTEN:
        obj: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = inspect.getattr_static(obj, part)
        function = getattr(obj, "__func__", obj)
        lines, start = inspect.getsourcelines(function)  # type: ignore[arg-type]
        functions.append(
            ManifestFunction(
                module=module_name,
                qualname=qualname,
                path=f"examples/shop/{module_name.replace('.', '/')}.py",
                start_line=start,
                end_line=start + len(lines) - 1,
                ai_share=share,
                generation_ids=(gen,),
                models=(MODEL,),
                agents=("claude-code",),
            )
        )
    return Manifest(revision=revision, functions=tuple(functions))


if __name__ == "__main__":
    target = Path(".codewitness/manifest.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(build().to_json(), encoding="utf-8")
    print(f"wrote {target} ({len(AI_WRITTEN)} AI-written functions)")
