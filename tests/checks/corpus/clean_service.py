# expect: none
# Ordinary, careful service code: nothing here should be reported.
import json
import logging
import os
import random
from pathlib import Path

import requests

logger = logging.getLogger(__name__)
RNG = random.Random(42)


def load_config(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def fetch(url: str, token: str) -> dict:
    response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    logger.info("fetched %s (%d bytes, max_tokens=%s)", url, len(response.content), os.environ.get("MAX_TOKENS"))
    return response.json()


def sample(items: list[str]) -> list[str]:
    return RNG.sample(sorted(set(items)), k=min(3, len(items)))


def parse(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
    except Exception:
        logger.exception("unexpected input %r", text)
        raise
