"""codewitness: observability for AI-generated code.

The public Python API is what ``__all__`` lists; everything else is private and may change.

Example:
    >>> import codewitness
    >>> codewitness.init(service="shop")  # doctest: +SKIP
    >>> gid = codewitness.record_generation(  # doctest: +SKIP
    ...     model="claude-sonnet-4-5", prompt="Write total()", output="def total(): ...",
    ...     params={"temperature": 0.2}, prompt_name="pricing", files=["shop/pricing.py:1-12"],
    ... )
"""

from __future__ import annotations

from codewitness._version import __version__

# Agent hooks import this package on every file edit: keep `import codewitness` free of
# `typing` and friends (mypy treats a module-level TYPE_CHECKING constant like typing's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from codewitness._init import init
    from codewitness.capture.api import record_generation
    from codewitness.invariants import ensure, require, returns

__all__ = ["__version__", "ensure", "init", "record_generation", "require", "returns"]


def __getattr__(name: str) -> object:
    """The runtime parts of the public API load on first use, not at ``import codewitness``."""
    if name == "init":
        from codewitness._init import init

        return init
    if name in ("ensure", "require", "returns"):
        from codewitness import invariants

        return getattr(invariants, name)
    if name == "record_generation":
        from codewitness.capture.api import record_generation

        return record_generation
    raise AttributeError(f"module 'codewitness' has no attribute {name!r}")
