"""codewitness: observability for AI-generated code.

The public Python API is what ``__all__`` lists; everything else is private and may change.

Example:
    >>> import codewitness
    >>> codewitness.init(service="shop")  # doctest: +SKIP
"""

from codewitness._version import __version__
from codewitness.sensor import init

__all__ = ["__version__", "init"]
