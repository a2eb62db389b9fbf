"""Wording for a girl or a boy, where a language must choose (Arabic): `f:`/`m:` beside the
band wording (`13+_f:` for one band), picked from the pronouns the child gave. Today's Arabic
is neutral throughout, so this copy of the content carries variants to show the rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent
NEUTRAL = "بأي طريقة تناسبك المشاركة في المراجعة؟"


@pytest.fixture
def settings(tmp_path: Path, content_copy: Callable[[Path], Path]):
    content = content_copy(tmp_path / "content")
    ar = content / "locales" / "ar.yaml"
    line = f'      13+: "{NEUTRAL}"\n'
    source = ar.read_text(encoding="utf-8")
    assert line in source
    variants = '      13+_f: "FOR A GIRL"\n      13+_m: "FOR A BOY"\n'
    ar.write_text(source.replace(line, line + variants), encoding="utf-8")
    return make_settings(tmp_path, content_dir=content)


@pytest.mark.parametrize(
    ("pronoun", "shown"), [("هي", "FOR A GIRL"), ("هو", "FOR A BOY"), ("هم", NEUTRAL)]
)
async def test_wording_follows_the_pronouns_given(linked_chat, pronoun: str, shown: str):
    _, chat = await linked_chat("msteams", language_hint="ar", age=15)
    await chat.say("رنا")
    reply = await chat.say(pronoun)
    assert shown in reply
