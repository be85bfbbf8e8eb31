"""Checkout: validate payment details and place an order."""

from __future__ import annotations

import itertools

from shop.pricing import Line, PricingError, quote

_order_ids = itertools.count(1000)


class PaymentError(RuntimeError):
    """The payment details were refused."""


def luhn_valid(card_number: str) -> bool:
    digits = [int(c) for c in card_number if c.isdigit()]
    if len(digits) < 13:
        return False
    checksum = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        checksum += digit
    return checksum % 10 == 0


def place_order(
    cart: list[dict[str, object]], card_number: str, api_token: str, coupon: str | None = None
) -> dict:
    lines = [Line(str(item["sku"]), int(item["quantity"])) for item in cart]  # type: ignore[call-overload]
    if not luhn_valid(card_number):
        raise PaymentError(f"card ending {card_number[-4:]} was declined")
    if not api_token:
        raise PaymentError("no payment token")
    priced = quote(lines, coupon)
    return {"order_id": next(_order_ids), **priced}


__all__ = ["PaymentError", "PricingError", "luhn_valid", "place_order"]
