"""The invite a young person gets: the link with the code in its fragment, a card to print or
send in their language with the link as a QR code, and a text a social worker can forward."""

from __future__ import annotations

import re
import stat

from bot import cli
from bot.invite_card import qr_svg


def add_review(tmp_path, monkeypatch, capsys, *extra: str) -> tuple[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("MYREVIEW_PUBLIC_URL", "https://myreview.council.example")
    cli.main(
        [
            "review",
            "add",
            "--first-name",
            "Amira",
            "--age",
            "14",
            "--iro-name",
            "Pat Lee",
            "--iro-email",
            "pat@council.example",
            "--review-at",
            "2030-12-10T10:00",
            *extra,
        ]
    )
    out = capsys.readouterr().out
    code = re.search(r"Invite code: (\S+)", out)
    assert code, out
    return out, code.group(1)


def test_an_arabic_review_gets_a_card_in_arabic_with_its_link_as_a_qr_code(
    tmp_path, monkeypatch, capsys
):
    card = tmp_path / "cards" / "amira.html"
    out, code = add_review(tmp_path, monkeypatch, capsys, "--language", "ar", "--card", str(card))
    link = f"https://myreview.council.example/chat?lang=ar#{code}"
    assert f"Link for the young person: {link}\n" in out
    assert f"Invite card (to print, or send to the young person): {card}" in out
    html = card.read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl">' in html
    assert "مراجعتك: قل رأيك" in html  # the card's title, in Arabic
    assert "مرحبًا Amira!" in html
    assert code in html and f'href="{link}"' in html
    # The QR code is the link itself, drawn on the card (nothing fetched to draw it).
    assert qr_svg(link) in html
    addresses = set(re.findall(r"https?://[^\s\"<#]+", html)) - {"http://www.w3.org/2000/svg"}
    assert addresses == {"https://myreview.council.example/chat?lang=ar"}
    # It holds the code: only its owner can read the file until it is printed or sent.
    assert stat.S_IMODE(card.stat().st_mode) == 0o600


def test_the_text_to_forward_is_in_the_childs_language_and_carries_the_link(
    tmp_path, monkeypatch, capsys
):
    out, code = add_review(tmp_path, monkeypatch, capsys, "--language", "sq")
    forward = re.search(r"Text to forward: (.*)", out)
    assert forward and forward.group(1).startswith("Përshëndetje Amira, IRO-ja")
    assert forward.group(1).endswith(f"https://myreview.council.example/chat?lang=sq#{code}")


def test_a_name_with_markup_is_shown_as_text_on_the_card(tmp_path, monkeypatch, capsys):
    card = tmp_path / "card.html"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    cli.main(
        [
            "review",
            "add",
            "--first-name",
            "<b>Sam</b>",
            "--age",
            "10",
            "--iro-name",
            "Pat Lee",
            "--iro-email",
            "pat@council.example",
            "--review-at",
            "2030-12-10T10:00",
            "--card",
            str(card),
        ]
    )
    html = card.read_text(encoding="utf-8")
    assert "<b>Sam</b>" not in html and "&lt;b&gt;Sam&lt;/b&gt;" in html
    assert '<html lang="en" dir="ltr">' in html


def test_a_new_code_comes_with_a_new_card(tmp_path, monkeypatch, capsys):
    out, first = add_review(tmp_path, monkeypatch, capsys)
    review_id = re.search(r"Review (\d+) created", out).group(1)
    card = tmp_path / "again.html"
    cli.main(["review", "new-code", "--review-id", review_id, "--card", str(card)])
    out = capsys.readouterr().out
    second = re.search(r"New invite code for review \d+: (\S+)", out).group(1)
    assert second != first
    assert second in card.read_text(encoding="utf-8") and first not in card.read_text()
