"""The shop's own tests: pricing, discounts and checkout, as its developers would write them.

``examples/shop/ai_coverage.py`` runs them with the codewitness pytest plugin to show how well
the AI-written functions are tested compared with the human ones.
"""

import asyncio
from decimal import Decimal

import pytest
from shop.checkout import PaymentError, luhn_valid, place_order
from shop.pricing import Line, PriceBook, PricingError, discount, exchange_rate, quote

VALID_CARD = "4111 1111 1111 1111"


def test_quote_adds_tax_to_the_subtotal():
    assert quote([Line("apple", 3), Line("bread", 1)]) == {
        "subtotal": "3.30",
        "discount": "0.00",
        "tax": "0.66",
        "total": "3.96",
    }


def test_a_coupon_reduces_the_price_before_tax():
    priced = quote([Line("coffee", 2)], coupon="WELCOME10")
    assert priced["discount"] == "1.59"
    assert priced["total"] == "17.17"


def test_unknown_items_and_coupons_are_refused():
    with pytest.raises(PricingError, match="unknown item 'caviar'"):
        quote([Line("caviar", 1)])
    with pytest.raises(PricingError, match="unknown coupon"):
        discount(Decimal(10), "FREE")


def test_money_is_rounded_half_up():
    assert PriceBook.round_money(Decimal("0.125")) == Decimal("0.13")


def test_luhn_check():
    assert luhn_valid(VALID_CARD)
    assert not luhn_valid("4111 1111 1111 1112")
    assert not luhn_valid("1234")


def test_an_order_gets_an_id_and_a_price():
    order = place_order([{"sku": "cheese", "quantity": 2}], VALID_CARD, "tok_live")
    assert order["order_id"] >= 1000
    assert order["total"] == "10.20"


def test_a_declined_card_places_no_order():
    with pytest.raises(PaymentError, match="card ending 1112 was declined"):
        place_order([{"sku": "apple", "quantity": 1}], "4111 1111 1111 1112", "tok_live")


def test_exchange_rate():
    assert asyncio.run(exchange_rate("USD")) == Decimal("1.08")
