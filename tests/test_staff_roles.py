"""A person may hold more than one role: a duty team manager who is also an admin, an IRO who
is also an admin. Their main role is their home page; the navigation leads to the boards of
the others. Each role keeps its own least privilege, never their sum: an admin who is also an
IRO reads the answers of their own reviews (as their IRO) and no others, and the admin pages
show no child's words. Admins give and change roles (audited, before and after; the last
active admin keeps the role), and a role taken away is gone from the next page."""

from __future__ import annotations

import re

import pytest

from bot import cli
from tests.consult import wait_for_eml
from tests.staff import audit_rows, hidden, make_staff, signed_in
from tests.test_staff_access_matrix import MATRIX
from tests.test_staff_summary import save

JO = "jo.smith@council.example"
PAT = "pat.lee@council.example"
WORDS = "Zanzibar-Marigold"
KEPT = "Kept-For-The-IRO"


def nav(html: str) -> list[tuple[str, str]]:
    """The top navigation's links: (address, text)."""
    top = html.split('<nav aria-label="Your account">')[1].split("</nav>")[0]
    return [
        (href.replace("&amp;", "&"), re.sub(r"<[^>]+>", "", text))
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', top)
    ]


async def a_chat_with_an_alert(linked_chat, parts, settings, *, iro_email: str):
    """Sam's review: linked, an alert, an answer in the child's words and one kept for the IRO
    alone."""
    review, chat = await linked_chat(first_name="Sam", iro_email=iro_email)
    await chat.say("English")
    await chat.say("he hits me")
    await wait_for_eml(settings.outbox_dir)
    await save(parts, review.id, "name", "text", WORDS, vis="everyone")
    await save(parts, review.id, "who_not_there", "text", KEPT, vis="iro")
    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    return review, alert


async def a_review_with_words(new_review, parts, *, name: str, iro_email: str):
    review, _ = await new_review(first_name=name, iro_email=iro_email)
    await save(parts, review.id, "name", "text", WORDS, vis="everyone")
    await save(parts, review.id, "who_not_there", "text", KEPT, vis="iro")
    return review


async def test_an_admin_who_is_an_iro_too_reads_their_own_reviews_and_no_others(
    client, parts, settings, linked_chat, new_review
):
    sam, sams_alert = await a_chat_with_an_alert(linked_chat, parts, settings, iro_email=JO)
    robin = await a_review_with_words(new_review, parts, name="Robin", iro_email=PAT)
    await make_staff(parts, email=JO, role="iro", also=("admin",), name="Jo Smith")
    await make_staff(parts, email=PAT, role="iro", name="Pat Lee")
    csrf = await signed_in(client, JO)

    # Jo's home is their main role's: their reviews. The navigation leads to the admin's board.
    home = await (await client.get("/staff")).text()
    assert "<h1>My reviews</h1>" in home and "Sam" in home and "Robin" not in home
    assert "Signed in as Jo Smith (IRO, Admin)" in home
    assert nav(home)[:5] == [
        ("/staff", "Home"),
        ("/staff?as=admin", "Administration"),
        ("/staff/admin/staff", "Staff"),
        ("/staff/admin/reviews", "Reviews"),
        ("/staff/import", "Import reviews"),
    ]

    # Their own review, as its IRO: the child's words, what was kept for them, and the record.
    own = await (await client.get(f"/staff/reviews/{sam.id}")).text()
    assert WORDS in own and KEPT in own and f'href="/staff/reviews/{sam.id}/change"' in own
    assert (await client.get(f"/staff/alerts/{sams_alert.id}")).status == 200
    # Pat's review: not found, for the review, its summary, and marking it read; as an admin
    # Jo may change it, and its change page shows no child's words.
    for path in (f"/staff/reviews/{robin.id}", f"/staff/reviews/{robin.id}/summary"):
        assert (await client.get(path)).status == 404
    read = await client.post(f"/staff/reviews/{robin.id}/read", data={"csrf": csrf})
    assert read.status == 404
    change = await client.get(f"/staff/reviews/{robin.id}/change")
    page = await change.text()
    assert change.status == 200 and WORDS not in page and KEPT not in page
    assert "Read their answers" not in page  # not theirs to read
    assert (
        "Read their answers" in await (await client.get(f"/staff/reviews/{sam.id}/change")).text()
    )
    listed = await (await client.get(f"/staff/admin/reviews?iro={PAT}")).text()
    assert "Robin" in listed and WORDS not in listed
    # Each reading was as the IRO of the review read, and Pat's was never read.
    viewed = await audit_rows(parts, "review.viewed")
    assert [(e.review_id, e.details["role"]) for e in viewed] == [(sam.id, "iro")]
    assert (await audit_rows(parts, "alert.viewed"))[0].details["role"] == "iro"


async def test_a_duty_manager_who_is_an_admin_too_owns_every_alert_and_reads_the_audit(
    client, parts, settings, linked_chat, new_review
):
    sam, alert = await a_chat_with_an_alert(linked_chat, parts, settings, iro_email=JO)
    quiet = await a_review_with_words(new_review, parts, name="Quiet", iro_email=JO)
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    await make_staff(parts, email="dee@council.example", role="duty", also=("admin",))
    csrf = await signed_in(client, "dee@council.example")

    board = await (await client.get("/staff")).text()
    assert "<h1>Safeguarding alerts</h1>" in board and f"Alert {alert.id}" in board
    assert ("/staff?as=admin", "Administration") in nav(board)
    admin = await (await client.get("/staff?as=admin")).text()
    assert "<h1>Administration</h1>" in admin and "Recent audit trail" in admin
    assert 'href="/staff?as=admin" aria-current="page"' in admin
    assert WORDS not in admin
    download = await client.post("/staff/admin/audit.csv", data={"csrf": csrf})
    assert download.status == 200 and "audit.exported" in await download.text()

    # The alert, and the review it belongs to, as the duty team: not what was kept for the IRO.
    page = await (await client.get(f"/staff/alerts/{alert.id}")).text()
    assert "Acknowledge" in page
    review = await (await client.get(f"/staff/reviews/{sam.id}")).text()
    assert WORDS in review and KEPT not in review and "not shown to you" in review
    # Not its IRO: nothing to mark read; an admin: its change page (which has no words).
    assert "Mark as read" not in review and f"/staff/reviews/{sam.id}/change" in review
    # A review with no alert is not theirs to read, admin or not.
    assert (await client.get(f"/staff/reviews/{quiet.id}")).status == 404
    assert [e.details["role"] for e in await audit_rows(parts, "review.viewed")] == ["duty"]
    assert [e.details["role"] for e in await audit_rows(parts, "alert.viewed")] == ["duty"]


async def test_a_duty_manager_with_a_caseload_reads_what_was_kept_for_the_iro_in_their_own_only(
    client, parts, settings, linked_chat, new_review
):
    # Sam's review is Pat's (an alert: the duty team may read it); Kim's is Dee's own.
    sam, _ = await a_chat_with_an_alert(linked_chat, parts, settings, iro_email=PAT)
    kim = await a_review_with_words(new_review, parts, name="Kim", iro_email="dee@council.example")
    await make_staff(parts, email="dee@council.example", role="duty", also=("iro",))
    await signed_in(client, "dee@council.example")
    theirs = await (await client.get(f"/staff/reviews/{sam.id}/summary")).text()
    assert WORDS in theirs and KEPT not in theirs and "not shown to you" in theirs
    assert "Mark as read" not in await (await client.get(f"/staff/reviews/{sam.id}")).text()
    own = await (await client.get(f"/staff/reviews/{kim.id}/summary")).text()
    assert KEPT in own
    roles = [(e.review_id, e.details["role"]) for e in await audit_rows(parts, "summary.viewed")]
    assert roles == [(sam.id, "duty"), (kim.id, "iro")]


async def test_a_participation_officer_who_is_an_admin_too_sees_no_childs_words_anywhere(
    client, parts, settings, linked_chat, new_review
):
    sam, alert = await a_chat_with_an_alert(linked_chat, parts, settings, iro_email=JO)
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    pip, _ = await make_staff(parts, email="pip@council.example", role="participation")
    await parts.repos.staff.set_roles(staff_id=pip.id, role="participation", extra_roles=["admin"])
    await signed_in(client, "pip@council.example")
    ids = {"review_id": sam.id, "alert_id": alert.id, "import_id": 1, "staff_id": pip.id}
    pages = [
        path.format(**ids)
        for (method, path), row in MATRIX.items()
        if method == "GET" and isinstance(row, dict)
    ]
    pages += [
        "/staff?as=admin",
        "/staff?as=participation",
        f"/staff/admin/reviews?iro={JO}",
        f"/staff/reviews/{sam.id}/change",
    ]
    opened = 0
    for path in pages:
        response = await client.get(path)
        html = await response.text()
        assert WORDS not in html and KEPT not in html and "he hits me" not in html, path
        opened += response.status == 200
    assert opened >= 8
    for path in (f"/staff/reviews/{sam.id}", f"/staff/alerts/{alert.id}"):
        assert (await client.get(path)).status == 404
    assert await audit_rows(parts, "review.viewed") == []


async def test_the_navigation_leads_to_the_boards_of_the_roles_held_and_no_others(
    client, parts, new_review
):
    await new_review(first_name="Kim", iro_email="dee@council.example")
    await make_staff(parts, email="dee@council.example", role="duty", also=("iro",))
    await make_staff(parts, email=PAT, role="iro", name="Pat Lee")
    await signed_in(client, "dee@council.example")
    home = await (await client.get("/staff")).text()
    assert "<h1>Safeguarding alerts</h1>" in home
    assert nav(home)[:2] == [("/staff", "Home"), ("/staff?as=iro", "My reviews")]
    assert "/staff/admin" not in home  # not an admin
    # Their IRO board, its filters keeping to it; a queue link of the duty board, to that one.
    mine = await (await client.get("/staff?as=iro")).text()
    assert "<h1>My reviews</h1>" in mine and "Kim" in mine
    assert 'href="/staff?as=iro" aria-current="page">My reviews' in mine
    assert 'href="/staff?as=iro&amp;state=invited"' in mine
    assert 'href="/staff?queue=mine"' in home
    # A board of a role they do not hold, or of none, is their main role's.
    for asked in ("admin", "participation", "nonsense", ""):
        page = await (await client.get(f"/staff?as={asked}")).text()
        assert "<h1>Safeguarding alerts</h1>" in page, asked

    # One role: Home alone, as before.
    client.session.cookie_jar.clear()
    await signed_in(client, PAT)
    pats = await (await client.get("/staff?as=duty")).text()
    assert "<h1>My reviews</h1>" in pats and "Signed in as Pat Lee (IRO)" in pats
    assert nav(pats)[:2] == [("/staff", "Home"), ("/staff/import", "Import reviews")]


async def test_an_admin_changes_someones_roles_audited_and_the_last_admin_stays_one(
    client, parts, second_browser
):
    ada, _ = await make_staff(parts, email="ada@council.example", role="admin", name="Ada")
    pat, _ = await make_staff(parts, email=PAT, role="iro", name="Pat Lee")
    csrf = await signed_in(client, "ada@council.example")
    # Pat is signed in elsewhere all along.
    await signed_in(second_browser, PAT)
    assert (await second_browser.get("/staff/admin/staff")).status == 404

    listed = await (await client.get("/staff/admin/staff")).text()
    assert f'href="/staff/admin/staff/{pat.id}">Change' in listed
    form = await client.get(f"/staff/admin/staff/{pat.id}")
    html = await form.text()
    assert form.status == 200 and "<h1>Roles of Pat Lee</h1>" in html
    assert '<option value="iro" selected>IRO</option>' in html
    assert 'id="also-admin" name="also" type="checkbox" value="admin" aria' in html
    assert hidden(html, "csrf") == csrf

    url = f"/staff/admin/staff/{pat.id}/roles"
    # Without the session's CSRF token: refused, nothing changed.
    stale = await client.post(url, data={"role": "iro", "also": "admin"})
    assert stale.status == 403 and (await parts.repos.staff.get(staff_id=pat.id)).roles == ["iro"]
    done = await client.post(url, data={"csrf": csrf, "role": "iro", "also": "admin"})
    assert "Their roles are changed" in await done.text()
    assert "Pat Lee</td><td>pat.lee@council.example</td>\n<td>IRO; also Admin" in (
        await done.text()
    )
    (changed,) = await audit_rows(parts, "staff.roles_changed")
    assert changed.staff_id == ada.id
    assert changed.details == {"staff": pat.id, "before": ["iro"], "after": ["iro", "admin"]}
    # Pat has it from the next page: no signing in again.
    assert (await second_browser.get("/staff/admin/staff")).status == 200

    # The same roles again: nothing changed, nothing recorded.
    same = await client.post(url, data={"csrf": csrf, "role": "iro", "also": ["admin", "iro"]})
    assert "nothing changed" in await same.text()
    assert len(await audit_rows(parts, "staff.roles_changed")) == 1
    # What cannot be: said, nothing saved.
    for data, error in (
        ({"role": "king"}, "Choose their main role"),
        ({"role": "iro", "also": "king"}, "role must be one of"),
        ({}, "Choose their main role"),
    ):
        bad = await client.post(url, data={"csrf": csrf, **data})
        assert bad.status == 400 and error in await bad.text(), data
    assert (await client.post("/staff/admin/staff/4242/roles", data={"csrf": csrf})).status == 404
    assert (await client.get("/staff/admin/staff/4242")).status == 404

    # Pat's admin role is taken away again: gone from Pat's next page.
    await client.post(url, data={"csrf": csrf, "role": "iro"})
    assert (await second_browser.get("/staff/admin/staff")).status == 404
    after = [e.details["after"] for e in await audit_rows(parts, "staff.roles_changed")]
    assert after == [["iro", "admin"], ["iro"]]

    # Ada is the only active admin: she cannot give up the role (a deactivated admin does not
    # count)...
    zed, _ = await make_staff(parts, email="zed@council.example", role="admin")
    await parts.repos.staff.deactivate(staff_id=zed.id)
    own = f"/staff/admin/staff/{ada.id}/roles"
    refused = await client.post(own, data={"csrf": csrf, "role": "duty"})
    assert refused.status == 400 and "only active admin" in await refused.text()
    assert (await parts.repos.staff.get(staff_id=ada.id)).roles == ["admin"]
    # ...until someone else holds it; then she can, and the admin pages are not hers any more.
    await client.post(url, data={"csrf": csrf, "role": "iro", "also": "admin"})
    gave_up = await client.post(own, data={"csrf": csrf, "role": "duty"}, allow_redirects=False)
    assert gave_up.status == 303 and gave_up.headers["Location"] == "/staff"
    assert (await client.get("/staff/admin/staff")).status == 404
    assert "<h1>Safeguarding alerts</h1>" in await (await client.get("/staff")).text()


async def test_an_admin_adds_someone_holding_more_than_one_role(client, parts):
    await make_staff(parts, email="ada@council.example", role="admin", name="Ada")
    csrf = await signed_in(client, "ada@council.example")
    page = await (await client.get("/staff/admin/staff")).text()
    assert "Other roles they hold (optional)" in page and 'value="duty"' in page
    added = await client.post(
        "/staff/admin/staff",
        data={
            "csrf": csrf,
            "email": "dee@council.example",
            "display_name": "Dee Duty",
            "role": "duty",
            # The main role ticked again changes nothing.
            "also": ["admin", "duty"],
        },
    )
    assert added.status == 200 and "Account made for Dee Duty" in await added.text()
    dee = await parts.repos.staff.by_email(email="dee@council.example")
    assert dee.roles == ["duty", "admin"] and dee.holds("admin") and not dee.holds("iro")
    (row,) = await audit_rows(parts, "staff.added")
    assert row.details["roles"] == ["duty", "admin"]
    bad = await client.post(
        "/staff/admin/staff",
        data={
            "csrf": csrf,
            "email": "x@council.example",
            "display_name": "X",
            "role": "iro",
            "also": "king",
        },
    )
    text = await bad.text()
    assert bad.status == 400 and "role must be one of" in text
    assert 'value="x@council.example"' in text  # what was typed is kept


def test_staff_add_gives_more_roles_with_also(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/myreview.db")
    cli.main(["staff", "add", "--email", "dee@council.example", "--name", "Dee Duty",
              "--role", "duty", "--also", "admin", "--also", "iro"])  # fmt: skip
    assert "Staff member 1 added: Dee Duty (duty, also iro, admin)." in capsys.readouterr().out
    cli.main(["staff", "add", "--email", "pat@council.example", "--name", "Pat",
              "--role", "iro"])  # fmt: skip
    assert "Staff member 2 added: Pat (iro)." in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse names the roles
        cli.main(["staff", "add", "--email", "a@council.example", "--name", "A",
                  "--role", "iro", "--also", "boss"])  # fmt: skip


async def test_the_upgrade_leaves_everyone_with_the_one_role_they_had(tmp_path):
    from alembic import command
    from sqlalchemy import text as sql

    from storage.crypto import Keyring
    from storage.db import Database, alembic_config
    from storage.repositories.staff import StaffRepository

    def upgrade_to(revision: str):
        def run(connection):
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

        return run

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}", keys=Keyring.ephemeral())
    async with db.engine.begin() as conn:
        await conn.run_sync(upgrade_to("0016"))
        await conn.execute(
            sql(
                "INSERT INTO staffmember (id, email, display_name, role, active, created_at) "
                "VALUES (1, 'dee@council.example', 'Dee', 'duty', 1, "
                "'2026-12-01 10:00:00.000000')"
            )
        )
    await db.migrate()
    dee = await StaffRepository(db).get(staff_id=1)
    await db.dispose()
    assert dee.roles == ["duty"] and dee.extra_roles == [] and not dee.holds("admin")
