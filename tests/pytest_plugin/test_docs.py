"""Every option and ini setting of the plugin is documented in docs/pytest.md."""

from __future__ import annotations

import re
from pathlib import Path

from codewitness import pytest_plugin

ROOT = Path(__file__).resolve().parents[2]


def test_every_option_and_ini_setting_is_documented() -> None:
    source = Path(pytest_plugin.__file__).read_text(encoding="utf-8")
    names = set(re.findall(r'"(--codewitness-[a-z-]+)"', source)) | set(re.findall(r'addini\(\s*"([a-z_]+)"', source))
    assert len(names) == 10
    docs = (ROOT / "docs" / "pytest.md").read_text(encoding="utf-8")
    missing = {name for name in names if f"`{name}" not in docs}
    assert not missing, f"undocumented in docs/pytest.md: {sorted(missing)}"
