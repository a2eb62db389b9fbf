"""Every setting is documented where a newcomer looks: `.env.example` and the README's table
name exactly the settings `Settings` reads, no more and no fewer."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "MYREVIEW_"


def read_by_the_app() -> set[str]:
    return {PREFIX + name.upper() for name in Settings.model_fields}


def in_env_example() -> set[str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    # Set, or shown commented out ("# MYREVIEW_X=..."), each on a line of its own.
    return set(re.findall(rf"^(?:#\s*)?({PREFIX}[A-Z0-9_]+)=", text, flags=re.MULTILINE))


def in_readme_table() -> set[str]:
    found: set[str] = set()
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith(f"| `{PREFIX}"):
            continue
        names = re.findall(r"`([A-Z0-9_]+)`", line.split("|")[1])
        first = names[0]
        for name in names:
            # "`MYREVIEW_SMTP_HOST`, `_PORT`": the same prefix, another last part.
            found.add(name if name.startswith(PREFIX) else first.rsplit("_", 1)[0] + name)
    return found


def test_env_example_names_every_setting_and_only_those():
    assert in_env_example() ^ read_by_the_app() == set()


def test_the_readme_table_names_every_setting_and_only_those():
    assert in_readme_table() ^ read_by_the_app() == set()
