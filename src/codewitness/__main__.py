"""``python -m codewitness`` runs the command line."""

import sys

from codewitness.cli import main

sys.exit(main())
