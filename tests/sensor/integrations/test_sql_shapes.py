"""SQL statements lose their literals and comments, keep their shape, and never let a value through.

Hypothesis builds statements from names, keywords, placeholders and literals of every kind SQLite,
PostgreSQL and MySQL write (strings with doubled quotes, E'' and X'' strings, dollar quoting,
numbers of every form, comments); a value -- a token, a card number -- put in a literal or a
comment must never survive, and two statements that differ only in their values must share a shape.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from codewitness.sensor.integrations._sql import MAX_CHARS, Normalizer, fingerprint, normalize

SECRET = "sk_live_51HxQ2fakeFAKEfake0000"


def test_literals_and_comments_go_placeholders_and_names_stay() -> None:
    assert normalize("SELECT * FROM users WHERE email = 'ann@example.com' AND id = 42 -- by api") == (
        "SELECT * FROM users WHERE email = ? AND id = ?"
    )
    assert normalize("select a, b from t1 where x = $1 and y = %s and z = :name and w = %(w)s and v = ?") == (
        "select a, b from t1 where x = $1 and y = %s and z = :name and w = %(w)s and v = ?"
    )
    assert normalize("SELECT $$a secret$$, $tag$more$tag$, E'\\x', X'ff', 1.5e10, .5, 0xff /* c 9 */ FROM t") == (
        "SELECT ?, ?, E?, X?, ?, ?, ? FROM t"
    )
    assert normalize('SELECT "col 1", `col 2`, t2.c3 FROM "t-4"') == 'SELECT "col 1", `col 2`, t2.c3 FROM "t-4"'
    assert (
        normalize("SELECT data::jsonb, 'it''s' FROM t LIMIT 10 OFFSET 20")
        == "SELECT data::jsonb, ? FROM t LIMIT ? OFFSET ?"
    )


def test_lists_and_rows_of_any_length_are_one_shape() -> None:
    assert normalize("SELECT 1 FROM t WHERE id IN (1, 2, 3)") == normalize("SELECT 1 FROM t WHERE id IN (4)")
    assert normalize("DELETE FROM t WHERE id NOT IN (?, ?, ?)") == "DELETE FROM t WHERE id NOT IN (?)"
    assert normalize("SELECT * FROM t WHERE a in(%s,%s)") == "SELECT * FROM t WHERE a in(?)"
    assert normalize("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')") == "INSERT INTO t (a, b) VALUES (?, ?)"
    # Only after IN: a function's arguments keep their number.
    assert normalize("SELECT coalesce(?, ?) FROM t") == "SELECT coalesce(?, ?) FROM t"


def test_a_quote_that_never_closes_takes_the_rest_as_a_literal() -> None:
    assert normalize(f"SELECT * FROM t WHERE key = '{SECRET} and more") == "SELECT * FROM t WHERE key = ?"
    assert normalize(f"SELECT 1 /* {SECRET}") == "SELECT ?"
    assert normalize(f"SELECT $x$ {SECRET}") == "SELECT ?"


def test_a_long_statement_is_cut_and_marked() -> None:
    shape = normalize("SELECT " + ", ".join(f"column_{i}" for i in range(400)) + " FROM t")
    assert len(shape) <= MAX_CHARS + len(" ...[cut]") and shape.endswith(" ...[cut]")


def test_the_normalizer_redacts_remembers_and_reads_composed_statements() -> None:
    seen: list[str] = []

    def redact(text: str) -> str:
        seen.append(text)
        return text.replace("users", "[REDACTED]")

    normalizer = Normalizer(redact, size=2)
    assert normalizer("SELECT * FROM users WHERE id = ?") == (
        "SELECT * FROM [REDACTED] WHERE id = ?",
        fingerprint("SELECT * FROM [REDACTED] WHERE id = ?"),
    )
    normalizer("SELECT * FROM users WHERE id = ?")
    assert len(seen) == 1  # the second time, remembered
    normalizer("SELECT 1")
    normalizer("SELECT 2")  # the memory was full: emptied, never grown past its size
    assert len(normalizer._known) <= 2

    class Composed:  # psycopg's sql.Composed and SQLAlchemy's TextClause give their text, never a repr
        text = "SELECT * FROM t WHERE code = 'x'"

    assert normalizer(Composed())[0] == "SELECT * FROM t WHERE code = ?"
    assert normalizer(b"SELECT 'bytes'")[0] == "SELECT ?"
    assert normalizer(object())[0] == "<object>"


names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n.upper() not in {"IN", "E", "X", "N", "B", "U"}
)
secret_text = st.sampled_from([SECRET, "4111 1111 1111 1111", "hunter2hunter2", "ghp_" + "a1" * 18])
plain_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


LITERAL_KINDS = ("plain", "E", "N", "dollar", "tagged", "comment", "block")


@st.composite
def literal(draw: st.DrawFn, value: st.SearchStrategy[str], kind: str) -> str:
    text = draw(value)
    if kind == "plain":
        return "'" + text.replace("'", "''") + "'"
    if kind in ("E", "N"):
        return kind + "'" + text.replace("'", "''") + "'"
    if kind == "dollar":
        return "$$" + text.replace("$$", "") + "$$"
    if kind == "tagged":
        return "$q$" + text.replace("$q$", "") + "$q$"
    if kind == "comment":
        return "-- " + text.replace("\n", " ") + "\n"
    return "/* " + text.replace("*/", "") + " */"


numbers = st.one_of(
    st.integers(min_value=0, max_value=10**18).map(str),
    st.floats(min_value=0, max_value=1e12, allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.integers(min_value=0, max_value=2**40).map(hex),
)


@st.composite
def template(draw: st.DrawFn) -> list[str | tuple[str]]:
    """A statement's tokens; ``(kind,)`` marks a literal slot of that kind (``number`` or a literal kind)."""
    parts: list[str | tuple[str]] = [draw(st.sampled_from(["SELECT", "UPDATE", "DELETE FROM", "INSERT INTO"]))]
    for _ in range(draw(st.integers(1, 6))):
        parts.append(draw(st.one_of(names, st.sampled_from(["=", ",", "AND", "(", ")", "?", "%s", "$1", "IN"]))))
        if draw(st.booleans()):
            parts.append((draw(st.sampled_from(["number", *LITERAL_KINDS])),))
    return parts


def fill(draw: st.DrawFn, parts: list[str | tuple[str]], value: st.SearchStrategy[str]) -> str:
    text: list[str] = []
    for part in parts:
        if isinstance(part, tuple):
            text.append(draw(numbers) if part[0] == "number" else draw(literal(value, part[0])))
        else:
            text.append(part)
    return " ".join(text)


@given(st.data())
@settings(max_examples=400, deadline=None)
def test_no_value_in_a_literal_or_a_comment_survives(data: st.DataObject) -> None:
    shape = normalize(fill(data.draw, data.draw(template()), secret_text))
    for secret in (SECRET, "4111 1111 1111 1111", "hunter2hunter2", "ghp_"):
        assert secret not in shape


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_statements_that_differ_only_in_their_values_share_one_shape(data: st.DataObject) -> None:
    parts = data.draw(template())
    first, second = (normalize(fill(data.draw, parts, plain_text)) for _ in range(2))
    assert first == second


@given(st.text(max_size=300))
@settings(max_examples=500, deadline=None)
def test_any_text_is_normalised_without_error_and_stays_short(text: str) -> None:
    assert len(normalize(text)) <= MAX_CHARS + len(" ...[cut]")
