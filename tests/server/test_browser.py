"""The dashboard in a real browser: Debian's chromium driven by Playwright, on the demo's captured project.

Each page is opened, checked for what it must show, and photographed into
``tests/server/screenshots/`` (kept out of git) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codewitness.store import open_store
from codewitness.store.tokens import create_token

from .conftest import start_server

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="Debian's chromium is not installed"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("browser") / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    made = subprocess.run(
        [sys.executable, "-m", "codewitness", "demo", "--dir", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    db = f"sqlite:///{root / '.codewitness' / 'witness.db'}"
    with open_store(db) as store:
        token = create_token(store, "browser").secret
    process, url = start_server(db, root, root.parent / "server.log")
    try:
        yield {"root": root, "db": db, "url": url, "token": token}
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, demo: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=demo["url"])
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: problems.append(str(e)))
    opened.problems = problems  # a test that causes an error on purpose clears it
    outside: list[str] = []
    opened.on("request", lambda r: outside.append(r.url) if not r.url.startswith(demo["url"]) else None)
    yield opened
    context.close()
    assert not problems, f"errors in the browser console: {problems}"
    assert not outside, f"requests that left the server (assets must be local): {outside}"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def visit(page: Any, path: str) -> Any:
    answer = page.goto(path)
    assert answer is not None and answer.status == 200, f"{path}: {answer.status if answer else None}"
    return answer


def test_overview(page: Any) -> None:
    visit(page, "/")
    assert page.get_by_test_id("ai-share").inner_text().endswith("%")
    page.wait_for_selector('[data-testid="share-chart"][data-drawn="true"] canvas')
    sides = page.get_by_test_id("sides").inner_text()
    assert "403" in sides and "AI-WRITTEN" in sides.upper()
    assert "refund_never_exceeds_payment" in page.content() and "TypeError" in page.content()
    assert "claude-sonnet-4-5-20250929" in page.content()
    shot(page, "overview")


def test_code_tree_is_coloured_by_ai_share(page: Any) -> None:
    visit(page, "/code")
    row = page.locator('tr[data-path="shop/pricing.py"]')
    assert float(row.get_attribute("data-ai-share")) > 0.5
    assert row.locator(".seg.origin-ai").count() == 1 and row.locator(".seg.origin-human").count() == 1
    assert float(page.locator('tr[data-path="app.py"]').get_attribute("data-ai-share")) == 0.0
    shot(page, "code")


def test_the_origin_gutter_marks_the_right_lines(page: Any) -> None:
    visit(page, "/code/file/shop/pricing.py")
    origins = {
        int(row.get_attribute("data-line")): row.get_attribute("data-origin") for row in page.locator("tr.line").all()
    }
    # Claude wrote lines 1-15, a person changed line 7 (the discount) and wrote describe() (17-19).
    assert origins[7] == "mixed"
    assert all(origins[n] == "ai" for n in (1, 2, 3, 4, 5, 6, 8, 11, 12, 13, 14, 15))
    assert origins[18] == "human" and origins[19] == "human"
    gutter = page.locator("#L3 td.gutter")
    tip = gutter.get_attribute("title")
    assert "claude-sonnet-4-5-20250929" in tip and "gen_" in tip and "prompt" in tip
    assert "ai" in gutter.get_attribute("class") and "mixed" in page.locator("#L7 td.gutter").get_attribute("class")
    gutter.hover()
    shot(page, "file")


def test_function_page_shows_its_chart_and_an_exception_input(page: Any) -> None:
    visit(page, "/functions/shop.pricing.total")
    page.wait_for_selector('[data-testid="calls-chart"][data-drawn="true"] canvas')
    page.wait_for_selector('[data-testid="latency-chart"][data-drawn="true"] canvas')
    exception = page.get_by_test_id("exception").first.inner_text()
    assert "TypeError" in exception and '"two"' in exception and '"1999"' in exception
    chain = page.get_by_test_id("provenance").inner_text()
    assert "claude-sonnet-4-5-20250929" in chain and "gen_" in chain
    assert "round(gross * 0.85)" in page.content(), "the diff from the raw output to the commit"
    shot(page, "function")
    visit(page, "/functions/shop.pricing.refund")
    assert "refund_never_exceeds_payment" in page.get_by_test_id("breach").first.inner_text()
    shot(page, "function-refund")


def test_functions_generations_prompts_and_checks_pages(page: Any) -> None:
    visit(page, "/functions")
    assert page.get_by_test_id("functions").locator("tbody tr").count() >= 3
    shot(page, "functions")
    visit(page, "/functions?origin=human")
    assert "shop.pricing.describe" in page.get_by_test_id("functions").inner_text()
    assert "shop.pricing.total" not in page.get_by_test_id("functions").inner_text()
    visit(page, "/generations")
    rows = page.get_by_test_id("generations").locator("tbody tr")
    assert rows.count() == 3
    shot(page, "generations")
    page.get_by_test_id("generations").locator("a.mono").first.click()
    page.wait_for_load_state()
    assert "Raw output" in page.content()
    shot(page, "generation")
    visit(page, "/prompts")
    assert "pricing" in page.get_by_test_id("prompts").inner_text()
    shot(page, "prompts")
    visit(page, "/prompts/pricing")
    assert "what changed from version 1" in page.content() and "10% discount" in page.content()
    shot(page, "prompt")
    visit(page, "/checks")
    assert page.get_by_test_id("checks").locator("tbody tr").count() == 1
    shot(page, "checks")
    page.get_by_test_id("checks").locator("a").first.click()
    page.wait_for_load_state()
    findings = page.get_by_test_id("findings").inner_text()
    assert "CW301" in findings and "shop/rates.py" in findings
    shot(page, "check")


def test_the_behaviour_pages_show_the_demo_s_baseline_and_corpus(page: Any) -> None:
    # The demo pins baseline "demo" over two inputs (a reviewer's corrected refund, a person's cart)
    # and checks it at 0%: both behave the same.
    visit(page, "/behavior")
    baselines = page.get_by_test_id("baselines").inner_text()
    assert "demo" in baselines and "0 of 2" in baselines and "ok" in baselines and "alarm" not in baselines
    corpus = page.get_by_test_id("corpus").inner_text()
    assert "shop.pricing.refund" in corpus and "shop.pricing.total" in corpus
    shot(page, "behavior")
    page.get_by_test_id("baselines").get_by_role("link", name="demo").click()
    page.wait_for_url("**/behavior/baselines/demo")
    assert page.get_by_test_id("checks").locator("tbody tr").count() == 1
    assert "amount=1500" not in page.content(), "replayed inputs and outcomes are not served"
    shot(page, "baseline")
    assert page.problems == []


def test_marking_a_review_item_in_the_browser_changes_the_store(page: Any, demo: dict[str, Any]) -> None:
    from codewitness.views.review import review_queue

    with open_store(demo["db"]) as store:
        already = [i["id"] for i in review_queue(store, status="wrong").items]
    assert len(already) == 1, "the demo's behaviour step marks one refund wrong"
    visit(page, "/review")
    assert page.locator("section.review-item").count() == 1
    assert page.locator("form.verdict").count() == 0, "no verdict buttons before signing in"
    shot(page, "review-signed-out")
    page.get_by_role("link", name="sign in with a token").click()
    page.fill('input[name="token"]', "cw_wrong")
    page.click('button[type="submit"].primary')
    assert "unknown or revoked" in page.content()
    assert page.problems == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    page.problems.clear()
    page.fill('input[name="token"]', demo["token"])
    page.click('button[type="submit"].primary')
    page.wait_for_url("**/review")
    shot(page, "review")
    first = page.locator("section.review-item").first
    item = first.get_attribute("data-item")
    first.locator('input[name="note"]').fill("the refund is above the payment")
    first.get_by_role("button", name="Wrong").click()
    page.wait_for_url("**/review?status=open&marked=*")
    assert page.locator("section.review-item").count() == 0
    with open_store(demo["db"]) as store:
        wrong = review_queue(store, status="wrong")
    marked = {i["id"]: i["note"] for i in wrong.items if i["id"] not in already}
    assert marked == {item: "the refund is above the payment"} and len(wrong.items) == 2
    visit(page, "/review?status=wrong")
    shot(page, "review-wrong")


def test_a_verdict_without_the_session_form_value_is_refused(page: Any, demo: dict[str, Any]) -> None:
    visit(page, "/login")
    shot(page, "login")
    page.fill('input[name="token"]', demo["token"])
    page.click('button[type="submit"].primary')
    page.wait_for_url("**/")
    with open_store(demo["db"]) as store:
        from codewitness.views.review import review_queue

        item = review_queue(store, status="all").items[0]["id"]
    answer = page.request.post(f"/review/{item}", form={"verdict": "ok", "csrf": "forged"}, max_redirects=0)
    assert answer.status == 403


def test_pages_without_data_say_what_to_run(browser: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    empty_root = tmp_path / "nothing"
    empty_root.mkdir()
    process, url = start_server(db, empty_root, tmp_path / "empty.log")
    try:
        context = browser.new_context(base_url=url, viewport={"width": 1360, "height": 900})
        view = context.new_page()
        view.goto("/")
        assert "codewitness run -- python app.py" in view.content()
        shot(view, "empty-overview")
        for path, hint in (
            ("/functions", "codewitness run -- python app.py"),
            ("/generations", "codewitness init --agents claude"),
            ("/checks", "codewitness check --record"),
            ("/review", "[[tool.codewitness.review]]"),
            ("/behavior", "codewitness baseline pin NAME"),
            ("/insights", "no runtime facts"),
            ("/code", "codewitness serve"),
        ):
            view.goto(path)
            assert hint in view.content(), path
        context.close()
    finally:
        process.terminate()
        process.wait(10)
    assert shutil.which("git")


# -- insights: a store with one insight of each kind, served on its own ----------------------------

QUERY = "SELECT name FROM items WHERE id = ?"
MARKUP = 'SELECT "<img src=x onerror=alert(1)>" FROM notes WHERE id = ?'


@pytest.fixture(scope="module")
def insights_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import random
    from datetime import timedelta

    from tests.runtime_records import T0, aggregate, dependency, ingest, route

    where = tmp_path_factory.mktemp("insights")
    db = f"sqlite:///{where / 'witness.db'}"
    rng = random.Random(5)
    later = T0 + timedelta(hours=1)
    slower_new = aggregate(
        "shop.pricing.quote", [int(rng.gauss(3e6, 3e5)) for _ in range(200)], revision="r2", start=later
    )
    slower_new["generation_ids"] = ["gen_1", "gen_2"]
    with open_store(db) as store:
        ingest(
            store,
            [
                dependency(QUERY, calls=50, requests=5),
                dependency(MARKUP, function="shop.notes.load", origin="human", calls=60, requests=6),
                aggregate("shop.pricing.quote", [int(rng.gauss(1e6, 1e5)) for _ in range(200)], revision="r1"),
                slower_new,
                route(
                    "/search",
                    [2_000_000] * 60,
                    function="shop.api.search",
                    concurrency={"1": [30, 30 * 2_000_000], "5-8": [30, 30 * 9_000_000]},
                ),
            ],
        )
        token = create_token(store, "insights").secret
    root = where / "project"
    root.mkdir()
    process, url = start_server(db, root, where / "server.log")
    try:
        yield {"db": db, "url": url, "token": token}
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def insights_page(browser: Any, insights_server: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=insights_server["url"])
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: problems.append(str(e)))
    opened.problems = problems  # a test that causes an error on purpose clears it
    yield opened
    context.close()
    assert not problems, f"errors in the browser console: {problems}"


def test_the_insights_page_lists_each_kind_with_its_function_and_origin(insights_page: Any) -> None:
    page = insights_page
    visit(page, "/")
    page.get_by_role("navigation", name="main").get_by_role("link", name="Insights").click()
    page.wait_for_url("**/insights")
    assert page.locator('nav.nav a[aria-current="page"]').inner_text() == "Insights"
    rows = page.get_by_test_id("insights").locator("tbody tr")
    assert [rows.nth(n).get_attribute("data-kind") for n in range(rows.count())] == [
        "n_plus_one",
        "n_plus_one",
        "slower",
        "scaling",
    ]
    first = rows.nth(0).inner_text()
    assert "shop.orders.load_items" in first and "GET /orders/{order_id}" in first and "10.0 times per request" in first
    assert rows.nth(0).locator('[data-origin="ai"]').count() == 1
    assert rows.nth(1).locator('[data-origin="human"]').count() == 1
    shot(page, "insights")
    # The filters: human code only, then one kind.
    page.select_option('select[name="origin"]', "human")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url("**/insights?*origin=human*")
    assert rows.count() == 1 and "shop.notes.load" in rows.nth(0).inner_text()
    page.select_option('select[name="origin"]', "")
    page.select_option('select[name="kind"]', "scaling")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url("**/insights?*kind=scaling*")
    assert rows.count() == 1 and "/search slows down under load" in rows.nth(0).inner_text()


def test_an_insight_s_page_shows_its_evidence_and_data_is_never_markup(insights_page: Any) -> None:
    page = insights_page
    visit(page, "/insights?origin=human")
    page.get_by_test_id("insights").locator("tbody tr a", has_text="runs the same query").click()
    page.wait_for_url("**/insights/ins_*")
    assert page.get_by_test_id("statement").inner_text() == MARKUP
    assert page.locator("img").count() == 0, "a statement's text became markup"
    evidence = page.get_by_test_id("evidence").inner_text()
    assert "10.0 on average, up to 10" in evidence and "6 ran it" in evidence
    assert "route handler" not in evidence  # the watched function issued it
    shot(page, "insight-n-plus-one")

    visit(page, "/insights?kind=slower")
    page.get_by_test_id("insights").locator("tbody tr a").first.click()
    page.wait_for_url("**/insights/ins_*")
    about = page.get_by_test_id("about").inner_text()
    assert "generations new at r2" in about
    assert page.get_by_test_id("about").locator("a.chip").all_inner_texts() == ["gen_2"]  # not r1's gen_1
    rows = page.get_by_test_id("evidence").locator("tbody tr")
    assert [rows.nth(n).locator("td").first.inner_text() for n in range(2)] == ["r1", "r2"]
    assert page.get_by_test_id("about").locator("a.chip").get_attribute("href") == "/generations/gen_2"
    shot(page, "insight-slower")

    visit(page, "/insights?kind=scaling")
    page.get_by_test_id("insights").locator("tbody tr a").first.click()
    levels = page.get_by_test_id("evidence").locator("tbody tr")
    assert [levels.nth(n).locator("td").first.inner_text() for n in range(levels.count())] == ["1", "5-8"]
    assert "9.00 ms" in levels.nth(1).inner_text()
    answer = page.goto("/insights/ins_ffffffffffffffff")
    assert answer is not None and answer.status == 404 and "codewitness insights --all" in page.content()
    assert page.problems == ["Failed to load resource: the server responded with a status of 404 (Not Found)"]
    page.problems.clear()


def test_acknowledging_an_insight_in_the_browser_hides_it_and_keeps_the_note(
    insights_page: Any, insights_server: dict[str, Any]
) -> None:
    from codewitness.views.insights import insights

    page = insights_page
    visit(page, "/insights?kind=scaling")
    page.get_by_test_id("insights").locator("tbody tr a").first.click()
    page.wait_for_url("**/insights/ins_*")
    ident = page.url.rsplit("/", 1)[1]
    assert page.locator("form.verdict").count() == 0, "no form before signing in"
    page.get_by_role("link", name="sign in with a token").click()
    page.fill('input[name="token"]', insights_server["token"])
    page.click('button[type="submit"].primary')
    page.wait_for_url(f"**/insights/{ident}")
    page.fill('form.verdict input[name="note"]', "the search index lock; fix in #42")
    page.get_by_role("button", name="Mark as seen").click()
    page.wait_for_url(f"**/insights?acked={ident}")
    assert ident not in [r.get_attribute("data-insight") for r in page.locator("tbody tr").all()]
    assert "1 acknowledged not shown" in page.get_by_test_id("hidden").inner_text()
    shot(page, "insights-acknowledged")
    with open_store(insights_server["db"]) as store:
        seen = [i for i in insights(store, include_acknowledged=True).insights if i.id == ident]
    assert seen[0].acknowledged is not None and seen[0].acknowledged.note == "the search index lock; fix in #42"
    page.get_by_test_id("hidden").get_by_role("link", name="show them").click()
    row = page.locator(f'tr[data-insight="{ident}"]')
    assert "seen" in row.inner_text()
    forged = page.request.post(f"/insights/{ident}/ack", form={"note": "x", "csrf": "forged"}, max_redirects=0)
    assert forged.status == 403
