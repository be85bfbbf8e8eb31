"""The generation ledger on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from codewitness import ledger
from codewitness.errors import InputError, NotFoundError
from codewitness.model import FileRange, Generation, generation_id
from codewitness.store import Store, open_store, schema

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def gen(prompt: str = "Write total()", output: str = "def total(): ...", **kw: object) -> Generation:
    details: dict[str, object] = {"agent": "api", "model": "claude-sonnet-4-5", "created_at": T0}
    details.update(kw)
    params = details.pop("params", {"temperature": 0.2})
    return Generation.create(prompt=prompt, output=output, params=params, **details)  # type: ignore[arg-type]


def count(store: Store, table: object) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_recording_the_same_generation_twice_keeps_one_row(store: Store) -> None:
    first = ledger.record(store, gen())
    again = ledger.record(store, gen(created_at=T0 + timedelta(hours=1)))
    assert first.id == again.id
    assert again.created_at == T0, "the stored record is returned, not the new one"
    assert count(store, schema.generations) == 1
    assert count(store, schema.prompts) == 1


def test_a_changed_parameter_makes_a_new_id(store: Store) -> None:
    a = ledger.record(store, gen(params={"temperature": 0.2}))
    b = ledger.record(store, gen(params={"temperature": 0.3}))
    assert a.id != b.id
    assert count(store, schema.generations) == 2
    assert count(store, schema.prompts) == 1, "one prompt text is stored once"


def test_a_recorded_generation_reads_back_whole(store: Store) -> None:
    original = gen(
        session_id="s-1",
        request_id="req-9",
        input_tokens=120,
        output_tokens=40,
        latency_ms=812.5,
        files=(FileRange("shop/pricing.py", 10, 20), FileRange("shop/cart.py", 1, 4)),
        params={"temperature": 0.0, "stop": ["\n\n"], "nested": {"top_p": 0.9}},
    )
    ledger.record(store, original)
    back = ledger.get(store, original.id)
    assert back.to_dict() == {
        **original.to_dict(),
        "files": sorted(original.to_dict()["files"], key=lambda f: f["path"]),
    }


def test_each_distinct_text_under_a_name_is_a_new_version(store: Store) -> None:
    v1 = ledger.record(store, gen(prompt="Sum prices.", prompt_name="pricing"), prompt_label="v1")
    same = ledger.record(store, gen(prompt="Sum prices.", output="other", prompt_name="pricing"))
    v2 = ledger.record(store, gen(prompt="Sum prices, half-even.", prompt_name="pricing"), prompt_label="v2")
    assert (v1.prompt_version, same.prompt_version, v2.prompt_version) == (1, 1, 2)
    history = ledger.prompt_history(store, "pricing")
    assert [(v.version, v.label, v.uses) for v in history] == [(1, "v1", 2), (2, "v2", 1)]
    assert ledger.resolve_prompt(store, "pricing@v2").version == 2
    assert ledger.resolve_prompt(store, "pricing").version == 2
    diff = ledger.prompt_diff(store, "pricing@1", "pricing@2")
    assert "-Sum prices.\n" in diff and "+Sum prices, half-even.\n" in diff
    assert ledger.prompt_names(store)[0][:2] == ("pricing", 2)


def test_unknown_prompts_and_versions_are_not_found(store: Store) -> None:
    ledger.record(store, gen(prompt_name="pricing"))
    with pytest.raises(NotFoundError):
        ledger.prompt_history(store, "nope")
    with pytest.raises(NotFoundError, match="versions: 1"):
        ledger.resolve_prompt(store, "pricing@7")
    with pytest.raises(InputError):
        ledger.resolve_prompt(store, "@3")


def test_find_filters(store: Store) -> None:
    a = ledger.record(store, gen(output="a", agent="claude-code", files=(FileRange("shop/pricing.py", 1, 3),)))
    b = ledger.record(
        store, gen(output="b", model="gpt-5", created_at=T0 + timedelta(days=2), files=(FileRange("shop_x.py", 1, 1),))
    )
    c = ledger.record(store, gen(output="c", prompt_name="cart", session_id="s9", created_at=T0 + timedelta(days=1)))
    ids = lambda found: [g.id for g in found]  # noqa: E731
    assert ids(ledger.find(store)) == [b.id, c.id, a.id]
    assert ids(ledger.find(store, model="gpt-5")) == [b.id]
    assert ids(ledger.find(store, agent="claude-code")) == [a.id]
    assert ids(ledger.find(store, since=T0 + timedelta(hours=1))) == [b.id, c.id]
    assert ids(ledger.find(store, file="shop")) == [a.id], "a folder matches below it, not shop_x.py"
    assert ids(ledger.find(store, file="shop_x.py")) == [b.id]
    assert ids(ledger.find(store, prompt="cart")) == [c.id]
    assert ids(ledger.find(store, prompt="cart@1")) == [c.id]
    assert ids(ledger.find(store, session="s9")) == [c.id]
    assert ids(ledger.find(store, limit=1)) == [b.id]


def test_get_by_prefix(store: Store) -> None:
    g = ledger.record(store, gen())
    assert ledger.get(store, g.id[:10]).id == g.id
    assert ledger.get(store, g.id[4:14]).id == g.id
    # Any unique prefix, however short (six characters were required before).
    assert ledger.get(store, g.id[:5]).id == g.id
    assert ledger.get(store, g.id[4]).id == g.id
    with pytest.raises(InputError, match="give a generation id"):
        ledger.get(store, "gen_")
    with pytest.raises(NotFoundError):
        ledger.get(store, "gen_" + "0" * 20 if not g.id.startswith("gen_0000") else "gen_" + "f" * 20)


def test_a_short_prefix_shared_by_two_generations_asks_for_more(store: Store) -> None:
    ids = {ledger.record(store, gen(output=str(n))).id for n in range(40)}
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(f"gen_{c}") for i in ids) > 1)
    with pytest.raises(InputError, match="matches several generations"):
        ledger.get(store, shared)


def test_find_by_prompt_label_as_prompts_show_reads_it(store: Store) -> None:
    # Before: "cart@v2" was taken as a prompt named "cart@v2" and found nothing.
    first = ledger.record(store, gen(prompt="one", output="a", prompt_name="cart"), prompt_label="v1")
    second = ledger.record(store, gen(prompt="two", output="b", prompt_name="cart"), prompt_label="v2")
    assert [g.id for g in ledger.find(store, prompt="cart@v2")] == [second.id]
    assert [g.id for g in ledger.find(store, prompt="cart@v1")] == [first.id]
    assert [g.id for g in ledger.find(store, prompt="cart@2")] == [second.id]
    assert ledger.resolve_prompt(store, "cart@v2").version == 2
    with pytest.raises(NotFoundError, match="no version 'v9'"):
        ledger.find(store, prompt="cart@v9")


def test_prefix_ids_with_like_wildcards_do_not_match_everything(store: Store) -> None:
    ledger.record(store, gen())
    with pytest.raises(NotFoundError):
        ledger.get(store, "gen_%%%%%%%%")


def _export(store: Store) -> str:
    out = io.StringIO()
    ledger.export_jsonl(store, out)
    return out.getvalue()


@pytest.mark.postgres
def test_export_import_round_trip_sqlite_postgres_sqlite(tmp_path, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as source:
        ledger.record(source, gen(prompt="P1", prompt_name="pricing"), prompt_label="v1")
        ledger.record(source, gen(prompt="P2", prompt_name="pricing", output="x", files=(FileRange("a.py", 2, 9),)))
        ledger.record(source, gen(prompt="unnamed ✓ üñí", output="y\x00z", params={"seed": 7}))
        exported = _export(source)
    with open_store(pg_url) as middle:
        first = ledger.import_jsonl(middle, exported.splitlines())
        again = ledger.import_jsonl(middle, exported.splitlines())
        via_pg = _export(middle)
    assert (first.added, first.prompt_versions_added) == (3, 2)
    assert (again.added, again.already_present) == (0, 3), "importing twice adds nothing"
    with open_store(f"sqlite:///{tmp_path / 'b.db'}") as back:
        ledger.import_jsonl(back, via_pg.splitlines())
        final = _export(back)
    assert via_pg == exported
    assert final == exported


def test_a_bad_import_line_leaves_the_store_unchanged(store: Store) -> None:
    ledger.record(store, gen())
    good = _export(store)
    other = gen(output="new one")
    tampered = other.to_dict() | {"type": "generation", "output": "tampered"}
    import json

    lines = [*good.splitlines(), json.dumps(other.to_dict() | {"type": "generation"}), json.dumps(tampered)]
    with pytest.raises(InputError, match=r"line 3: id .* does not match"):
        ledger.import_jsonl(store, lines)
    assert count(store, schema.generations) == 1
    with pytest.raises(InputError, match="line 1"):
        ledger.import_jsonl(store, ["{not json"])
    with pytest.raises(InputError, match="unknown record type"):
        ledger.import_jsonl(store, ['{"type": "mystery"}'])


# -- the content address (pure) ------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


@given(st.text(), st.text(), st.dictionaries(st.text(max_size=8), json_values, max_size=4), st.text())
def test_generation_id_is_deterministic_and_key_order_free(model, prompt, params, output) -> None:  # type: ignore[no-untyped-def]
    a = generation_id(model=model, prompt=prompt, params=params, output=output)
    b = generation_id(model=model, prompt=prompt, params=dict(reversed(list(params.items()))), output=output)
    assert a == b
    assert a.startswith("gen_") and len(a) == 24


@given(st.text(), st.text(), st.text(), st.text(min_size=1))
def test_generation_id_changes_with_any_part(model, prompt, output, extra) -> None:  # type: ignore[no-untyped-def]
    base = generation_id(model=model, prompt=prompt, params={}, output=output)
    assert base != generation_id(model=model + extra, prompt=prompt, params={}, output=output)
    assert base != generation_id(model=model, prompt=prompt + extra, params={}, output=output)
    assert base != generation_id(model=model, prompt=prompt, params={}, output=output + extra)
    assert base != generation_id(model=model, prompt=prompt, params={"k": extra}, output=output)
    # The parts cannot bleed into each other: moving text from the prompt to the output changes the id.
    assert base != generation_id(
        model=model,
        prompt=prompt[: -len(extra)] if prompt.endswith(extra) else prompt + extra,
        params={},
        output=extra + output if prompt.endswith(extra) else output,
    )


def test_find_edges(store: Store) -> None:
    a = ledger.record(store, gen(output="a", files=(FileRange("my_pkg/a.py", 1, 2),)))
    b = ledger.record(store, gen(output="b", prompt_name="team@cart", created_at=T0 + timedelta(days=1)))
    c = ledger.record(
        store, gen(output="c", files=(FileRange("myXpkg/b.py", 1, 1),), created_at=T0 - timedelta(days=1))
    )
    ids = lambda found: [g.id for g in found]  # noqa: E731
    assert ids(ledger.find(store, since=T0)) == [b.id, a.id], "created exactly at `since` is included"
    assert ids(ledger.find(store, file="/my_pkg/")) == [a.id], "slashes around a folder are ignored; _ is no wildcard"
    assert ids(ledger.find(store, file="myXpkg")) == [c.id]
    assert ids(ledger.find(store, prompt="team@cart")) == [b.id], "an @ not followed by a version is part of the name"
    assert ids(ledger.find(store, prompt="team@cart@1")) == [b.id]
    with pytest.raises(NotFoundError, match="no version '2'"):
        ledger.find(store, prompt="team@cart@2")
    assert ids(ledger.find(store, prompt="team")) == []


def test_a_prefix_shared_by_two_generations_is_ambiguous(store: Store) -> None:
    by_prefix: dict[str, Generation] = {}
    for n in range(200_000):  # two ids sharing 6 hex digits turn up after a few thousand
        candidate = gen(output=f"o{n}")
        other = by_prefix.setdefault(candidate.id[:10], candidate)
        if other is not candidate:
            break
    else:
        raise AssertionError("no two ids share a prefix")
    first, second = ledger.record(store, other), ledger.record(store, candidate)
    prefix = first.id[:10]
    with pytest.raises(InputError) as info:
        ledger.get(store, prefix)
    message = str(info.value)
    head, tail = f"{prefix!r} matches several generations (", "); give more characters"
    assert message.startswith(head) and message.endswith(tail), message
    assert sorted(message[len(head) : -len(tail)].split(", ")) == sorted([first.id, second.id])
    assert ledger.get(store, first.id).id == first.id
