"""A real project for replay tests: a person's v1 of a pricing module, real traffic sampled under
``codewitness run``, and an AI v2 edited through the Cursor capture hooks and committed.

:func:`build` makes it in a fresh repository:

1. ``shop/pricing.py`` v1, written by a person, committed and tagged ``v1``; the capture hooks
   installed (``codewitness init`` for Cursor, git hooks);
2. ``drive.py`` calls the functions under ``codewitness run`` (with a manifest built first, so the
   records carry the revision) with half of the calls offered for a
   sample: ``price`` 180 times in euros and 20 times in yen (10%), ``units``, ``stamp``,
   ``discount``, ``pick`` (an unseeded ``random.choice``) and ``login`` (a password argument:
   never replayable, 20 calls); ``codewitness ingest`` stores the samples and so the corpus;
3. four agent edits, each with its own prompt, through the Cursor hooks (:data:`EDITS`): yen
   amounts rounded to whole yen, ``units`` returning a float, ``stamp`` dropping its time zone,
   ``discount`` refusing large amounts; committed as v2 (the post-commit hook writes the note and
   links the generations).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.agent_edit import cursor_edit, install_hooks
from tests.conftest import GitRepo

V1 = '''"""Prices, written by a person."""

import random
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum


class Currency(Enum):
    EUR = "EUR"
    JPY = "JPY"


def price(amount: Decimal, qty: int, currency: Currency) -> Decimal:
    total = amount * qty
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def units(count: int):
    return count * 2


def stamp(year: int):
    return datetime(year, 1, 1, tzinfo=timezone.utc)


def discount(amount: Decimal) -> Decimal:
    return (amount * Decimal("0.9")).quantize(Decimal("0.01"))


def pick(options: list):
    return random.choice(options)


def login(user: str, password: str) -> bool:
    return len(password) > 3
'''

#: (old text, new text, prompt) of each agent edit of v2.
EDITS = (
    (
        """    total = amount * qty
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)""",
        """    total = amount * qty
    if currency is Currency.JPY:
        return total.quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)""",
        "Yen has no minor unit: round JPY prices to whole yen",
    ),
    ("    return count * 2\n", "    return count * 2.0\n", "units: make the result a float for the charts"),
    (
        "    return datetime(year, 1, 1, tzinfo=timezone.utc)",
        "    return datetime(year, 1, 1)",
        "stamp: simplify the datetime construction",
    ),
    (
        """    return (amount * Decimal("0.9")).quantize(Decimal("0.01"))""",
        """    if amount > 500:
        raise ValueError("discounts stop at 500")
    return (amount * Decimal("0.9")).quantize(Decimal("0.01"))""",
        "discount: cap discounted amounts at 500",
    ),
)

DRIVER = """
import random
from decimal import Decimal

from shop.pricing import Currency, discount, login, pick, price, stamp, units

rng = random.Random(5)
for i in range(200):
    currency = Currency.JPY if i % 10 == 3 else Currency.EUR
    price(Decimal(rng.randint(100, 99999)) / 100, rng.randint(1, 5), currency)
for i in range(30):
    units(rng.randint(0, 50))
    stamp(rng.randint(1990, 2030))
    discount(Decimal(rng.choice([10, 250, 800, 1200])))
    pick(list("abcdefghijklmnopqrstuvwxyz"))
for _ in range(20):
    login("dana", "hunter2hunter2")
print("driven")
"""

CONFIG = """[sensor]
include = ["shop.pricing.*"]
sample_rate = 0.5
interval = 60

[behavior]
timeout = 20
# five runs per input and side: an unseeded choice among 26 letters repeats itself five times
# with a chance of 26**-4 (the default, two runs, misses it one time in 26)
repeat = 5
"""


def new_repo(folder: Path) -> GitRepo:
    """An empty repository with an identity (``GIT_CONFIG_GLOBAL`` must point away from the developer's)."""
    folder.mkdir(parents=True)
    repo = GitRepo(folder)
    repo.git("init", "-q", "-b", "main")
    repo.git("config", "user.name", "Dana Developer")
    repo.git("config", "user.email", "dana@example.com")
    repo.git("config", "commit.gpgsign", "false")
    return repo


@dataclass(frozen=True)
class Project:
    """The built project."""

    repo: GitRepo
    root: Path
    db_url: str
    v1: str
    v2: str


def env() -> dict[str, str]:
    """The environment commands of the project run in: no developer settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}


def cli(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``codewitness ARGS`` in the project, as a user would."""
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env(),
        timeout=600,
        check=False,
    )
    if check:
        assert proc.returncode in (0, 1), (args, proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def build(repo: GitRepo, *, edits: tuple[tuple[str, str, str], ...] = EDITS) -> Project:
    """The project described in the module docstring."""
    root = repo.root
    repo.write("shop/__init__.py", "")
    repo.write("shop/pricing.py", V1)
    repo.write("codewitness.toml", CONFIG)
    repo.write(".gitignore", ".codewitness/\n")
    v1 = repo.commit("pricing, by a person")
    repo.git("tag", "v1")
    install_hooks(root)
    repo.write("drive.py", DRIVER)
    repo.commit("the traffic driver and the hooks")
    cli(root, "manifest", "build")  # the revision every runtime record carries
    done = cli(root, "run", "--", sys.executable, "drive.py")
    assert done.stdout.strip() == "driven", done.stderr[-2000:]
    ingested = cli(root, "ingest")
    assert ingested.returncode == 0, ingested.stderr
    for old, new, prompt in edits:
        cursor_edit(root, "shop/pricing.py", old, new, prompt=prompt)
    v2 = repo.commit("pricing v2, by the agent")
    return Project(repo=repo, root=root, db_url=f"sqlite:///{root / '.codewitness' / 'witness.db'}", v1=v1, v2=v2)
