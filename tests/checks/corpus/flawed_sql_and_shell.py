# expect: CW301 CW310
# String-built SQL and a shell command from user input.
import sqlite3
import subprocess


def find_user(conn: sqlite3.Connection, name: str):
    return conn.execute(f"SELECT * FROM users WHERE name = '{name}'").fetchall()  # finding: CW310


def archive(folder: str) -> None:
    subprocess.run(f"tar czf backup.tgz {folder}", shell=True, check=True)  # finding: CW301
