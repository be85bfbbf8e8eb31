"""What the sensor watches, and the origin every fact carries, from a manifest listing every AI-touched function."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import codewitness
from codewitness import invariants
from codewitness.model import Manifest, ManifestFunction
from codewitness.sensor._select import select_targets


def _function(qualname: str, share: float, generation: str = "gen_a") -> ManifestFunction:
    return ManifestFunction(
        "shop.pricing", qualname, "shop/pricing.py", 1, 3, share, (generation,), ("m",), ("cursor",)
    )


MANIFEST = Manifest(
    "r1",
    (_function("quote", 1.0, "gen_q"), _function("discount", 0.25, "gen_d")),
    watch_min_share=0.5,
)


def test_only_functions_at_the_threshold_are_watched_by_default() -> None:
    selection = select_targets(MANIFEST)
    quote = selection.wanted("shop.pricing", "quote")
    assert quote is not None and quote.origin == "ai" and quote.generation_ids == ("gen_q",)
    assert selection.wanted("shop.pricing", "discount") is None


def test_a_pattern_selected_function_keeps_the_manifests_origin() -> None:
    selection = select_targets(MANIFEST, include=["shop.pricing.*"])
    discount = selection.wanted("shop.pricing", "discount")
    assert discount is not None
    assert (discount.origin, discount.ai_share, discount.generation_ids) == ("mixed", 0.25, ("gen_d",))
    other = selection.wanted("shop.pricing", "Cart.total")
    assert other is not None and (other.origin, other.module, other.qualname) == ("human", "shop.pricing", "Cart.total")
    assert select_targets(None, include=["shop.*"]).wanted("shop.pricing", "quote").origin == "unknown"  # type: ignore[union-attr]


def test_about_answers_for_watched_listed_and_unlisted_functions() -> None:
    selection = select_targets(MANIFEST)
    assert selection.about("shop.pricing.discount").facts()["generation_ids"] == ["gen_d"]  # type: ignore[union-attr]
    human = selection.about("shop.cart.Cart.total")
    assert human is not None and human.facts()["origin"] == "human" and human.name == "shop.cart.Cart.total"
    assert select_targets(None).about("shop.cart.Cart.total") is None


@pytest.fixture(autouse=True)
def _record_mode() -> Iterator[None]:
    before = invariants.default_mode()
    invariants.set_default_mode("record")
    yield
    invariants.set_default_mode(before)


def test_a_breach_of_an_unwatched_function_carries_the_manifests_origin(
    app: Any, backend: str, memory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "codewitness.toml").write_text('[sensor]\nspool_dir = ""\ninterval = 60\n')
    monkeypatch.chdir(root)
    module = app.write(
        "pricing",
        """
        import codewitness

        @codewitness.ensure(lambda result, price: result <= price, name="discount_never_raises_price")
        def discounted(price, pct):
            return price * (1 - pct)

        @codewitness.ensure(lambda result: result > 0, name="positive")
        def human_written(x):
            return x
        """,
    )
    listed = dataclasses.replace(
        MANIFEST.functions[1], module=module, qualname="discounted", generation_ids=("gen_pricing0000000001",)
    )
    sensor = codewitness.init(
        service="shop",
        manifest=Manifest("r1", (listed,), watch_min_share=0.5),
        exporters=[memory],
        backend=backend.removesuffix("/py"),
    )
    assert sensor is not None
    pricing = importlib.import_module(module)
    pricing.discounted(100, -0.1)
    pricing.human_written(-1)
    sensor.flush()
    assert memory.of("aggregate") == []  # below the threshold: not watched
    breaches = {b["rule"]: b for b in memory.of("breach")}
    ai = breaches["discount_never_raises_price"]
    assert (ai["origin"], ai["ai_share"], ai["generation_ids"]) == ("mixed", 0.25, ["gen_pricing0000000001"])
    assert ai["function"] == f"{module}.discounted"
    assert breaches["positive"]["origin"] == "human" and breaches["positive"]["generation_ids"] == []
