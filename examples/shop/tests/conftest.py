"""Make the ``shop`` package importable however pytest is started (from here, or from the repository)."""

import sys
from pathlib import Path

SHOP_ROOT = str(Path(__file__).resolve().parent.parent)
if SHOP_ROOT not in sys.path:
    sys.path.insert(0, SHOP_ROOT)
