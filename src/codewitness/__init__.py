"""codewitness: observability for AI-generated code.

The public Python API is what ``__all__`` lists; everything else is private and may change.
"""

from codewitness._version import __version__

__all__ = ["__version__"]
