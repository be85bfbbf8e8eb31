"""Prices: catalogue lookups, discounts, taxes and quotes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CATALOGUE: dict[str, Decimal] = {
    "apple": Decimal("0.40"),
    "bread": Decimal("2.10"),
    "coffee": Decimal("7.95"),
    "cheese": Decimal("4.25"),
}
COUPONS: dict[str, Decimal] = {"WELCOME10": Decimal("0.10"), "HALF": Decimal("0.50")}


class PricingError(ValueError):
    """A cart that cannot be priced (unknown item, bad quantity, unknown coupon)."""


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


class PriceBook:
    """Unit prices with a tax rate."""

    def __init__(self, prices: dict[str, Decimal], tax_rate: Decimal) -> None:
        self.prices = prices
        self.tax_rate = tax_rate

    @classmethod
    def default(cls) -> PriceBook:
        return cls(dict(CATALOGUE), Decimal("0.20"))

    @staticmethod
    def round_money(amount: Decimal) -> Decimal:
        return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def unit_price(self, sku: str) -> Decimal:
        try:
            return self.prices[sku]
        except KeyError:
            raise PricingError(f"unknown item {sku!r}") from None

    def line_totals(self, lines: list[Line]) -> Iterator[tuple[str, Decimal]]:
        for line in lines:
            if line.quantity <= 0:
                raise PricingError(f"quantity must be positive for {line.sku!r}")
            yield line.sku, self.unit_price(line.sku) * line.quantity


def discount(subtotal: Decimal, coupon: str | None) -> Decimal:
    if coupon is None:
        return Decimal(0)
    try:
        rate = COUPONS[coupon]
    except KeyError:
        raise PricingError(f"unknown coupon {coupon!r}") from None
    return subtotal * rate


def quote(lines: list[Line], coupon: str | None = None, book: PriceBook | None = None) -> dict[str, str]:
    book = book or PriceBook.default()
    subtotal = sum((total for _, total in book.line_totals(lines)), Decimal(0))
    reduced = subtotal - discount(subtotal, coupon)
    tax = reduced * book.tax_rate
    return {
        "subtotal": str(PriceBook.round_money(subtotal)),
        "discount": str(PriceBook.round_money(subtotal - reduced)),
        "tax": str(PriceBook.round_money(tax)),
        "total": str(PriceBook.round_money(reduced + tax)),
    }


async def exchange_rate(currency: str) -> Decimal:
    """Pretend to ask a rates service (a real await point, no network)."""
    await asyncio.sleep(0)
    rates = {"EUR": Decimal("1"), "USD": Decimal("1.08"), "GBP": Decimal("0.86")}
    if currency not in rates:
        raise PricingError(f"no rate for {currency!r}")
    return rates[currency]
