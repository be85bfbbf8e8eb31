# expect: none
# Names that only mention a secret's size or kind, and SQL text built from values that are safe.
import logging
import sqlite3

log = logging.getLogger(__name__)
TABLE = "orders"


def report(token_count: int, password_max_length: int, secret_type: str, key_id: str, tokenizer: str) -> None:
    log.info("%d tokens, passwords up to %d characters", token_count, password_max_length)
    log.info("secret kind %s, key %s, tokenizer %s", secret_type, key_id, tokenizer)


def page(conn: sqlite3.Connection, limit: int, offset: int, ids: list[int], where_clause: str) -> list:
    rows = conn.execute(f"SELECT * FROM {TABLE} LIMIT {limit + 1} OFFSET {offset * 2}").fetchall()
    placeholders = ", ".join("?" * len(ids))
    rows += conn.execute(f"SELECT * FROM orders WHERE id IN ({placeholders})", ids).fetchall()
    rows += conn.execute(f"SELECT * FROM orders WHERE {where_clause or '1 = 1'}").fetchall()
    return rows
