"""``python -m codewitness`` runs the command line."""

import sys

from codewitness.cli import main

if __name__ == "__main__":
    sys.exit(main())
