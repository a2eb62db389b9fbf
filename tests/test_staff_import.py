"""Importing upcoming reviews from the council's case system: upload a CSV, choose the columns
(guessed from the headers), see what each row would do, confirm. Nothing is written before
then, bad rows are named by row and column, and importing the same file again changes
nothing."""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp import FormData
from sqlmodel import select

from bot.jobs import housekeeping
from bot.staff.imports import (
    MAX_BYTES,
    decode,
    guess_mapping,
    parse_when,
    read_table,
)
from storage.models import Review, ReviewImport
from tests.staff import audit_rows, hidden, make_staff, signed_in

LONDON = ZoneInfo("Europe/London")
ADMIN = "ada.admin@council.example"
JO = "jo.smith@council.example"
PAT = "pat.lee@council.example"


def day(days: int) -> str:
    """A day from today, as the case system writes it (UK: day/month/year)."""
    return (datetime.now(LONDON).date() + timedelta(days=days)).strftime("%d/%m/%Y")


def export(*rows: str, header: str | None = None) -> bytes:
    """A case-system export as Excel saves it: UTF-8 with a byte order mark, semicolons,
    Windows line ends, and a blank line or two."""
    header = header or (
        "Case Ref;Child Forename;DOB;Next Review Date;Time;Venue;IRO Email;Language"
    )
    return codecs.BOM_UTF8 + "\r\n".join([header, "", *rows, ""]).encode()


GOOD = (
    f"CR-1001;Sam;03/04/2012;{day(20)};10:30;Oak House;{JO};English",
    f"CR-1002;Amira;14/09/2010;{day(35)};;;{JO};Arabic",
)


async def upload(client, csrf: str, data: bytes, name: str = "reviews.csv"):
    form = FormData()
    form.add_field("csrf", csrf)
    form.add_field("file", data, filename=name, content_type="text/csv")
    return await client.post("/staff/import", data=form, allow_redirects=False)


def selected(html: str) -> dict[str, str]:
    """Each column choice on the page, as the page has it selected."""
    found = {}
    for name, body in re.findall(
        r'<select id="f-\w+" name="(\w+)"[^>]*>(.*?)</select>', html, re.S
    ):
        chosen = re.search(r'<option value="(\d*)" selected>', body)
        found[name] = chosen.group(1) if chosen else ""
    return found


async def upload_and_check(client, csrf: str, data: bytes, choose: dict[str, str] | None = None):
    """Upload, keep the guessed columns (or change some), and open the dry run: its page."""
    response = await upload(client, csrf, data)
    assert response.status == 303, await response.text()
    where = response.headers["Location"]
    columns = await (await client.get(where)).text()
    chosen = {**selected(columns), **(choose or {})}
    response = await client.post(where, data={"csrf": csrf, **chosen}, allow_redirects=False)
    assert response.status == 303, await response.text()
    page = await client.get(response.headers["Location"])
    return where, await page.text()


async def reviews(parts) -> list[Review]:
    async with parts.db.session() as s:
        return list((await s.exec(select(Review).order_by(Review.id))).all())


def counted(html: str) -> str:
    return re.search(r"\d+ new, \d+ updated, \d+ unchanged, \d+ not imported", html).group(0)


async def test_an_admin_imports_a_file_and_importing_it_again_changes_nothing(client, parts):
    await make_staff(parts, email=ADMIN, role="admin")
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    csrf = await signed_in(client, ADMIN)
    file = export(
        *GOOD, f"CR-1003;Kim;01/01/2011;31/02/2027;;;{JO};", f"CR-1004;Lee;;{day(9)};;;{JO};"
    )

    response = await upload(client, csrf, file)
    assert response.status == 303
    columns = await (await client.get(response.headers["Location"])).text()
    # Guessed from the headers.
    assert selected(columns) == {
        "case_reference": "0",
        "review_date": "3",
        "review_time": "4",
        "first_name": "1",
        "preferred_name": "",
        "date_of_birth": "2",
        "age": "",
        "iro_email": "6",
        "iro_name": "",
        "place": "5",
        "language": "7",
        "uasc": "",
        "easy_read": "",
    }
    assert "4 reviews, 8 columns separated by semicolons" in columns
    await client.post(f"{response.headers['Location']}/cancel", data={"csrf": csrf})

    where, check = await upload_and_check(client, csrf, file)
    assert "Nothing has been saved yet" in check
    assert counted(check) == "2 new, 0 updated, 0 unchanged, 2 not imported"
    assert (
        "Row 5, column &#39;Next Review Date&#39;: &#39;31/02/2027&#39; is not a date: use "
        "day/month/year" in check
    )
    assert "Row 6, column &#39;DOB&#39;: empty: a date of birth or an age is needed" in check
    assert "No time given: set at 9:00." in check
    assert await reviews(parts) == []  # the dry run wrote nothing

    done = await client.post(f"{where}/confirm", data={"csrf": csrf})
    page = await done.text()
    assert done.status == 200 and "2 new, 0 updated, 0 unchanged, 2 not imported" in page
    sam, amira = await reviews(parts)
    assert (sam.first_name, sam.case_reference, sam.place, sam.language_hint) == (
        "Sam",
        "CR-1001",
        "Oak House",
        "en",
    )
    assert sam.review_at.astimezone(LONDON).strftime("%H:%M") == "10:30"
    assert amira.review_at.astimezone(LONDON).strftime("%H:%M") == "09:00"
    assert amira.language_hint == "ar" and amira.place is None
    # The IRO's name from their staff account; each review linked to its child.
    assert sam.iro_name == amira.iro_name == "Jo Smith"
    assert sam.child_key and sam.child_key != amira.child_key
    # Audited: the import, and each review it made.
    (imported,) = await audit_rows(parts, "reviews.imported")
    assert imported.details | {"import": 0} == {
        "import": 0,
        "rows": 4,
        "new": 2,
        "updated": 0,
        "unchanged": 0,
        "error": 2,
    }
    made = await audit_rows(parts, "review.created")
    assert [(e.review_id, e.details["via"]) for e in made] == [
        (sam.id, "import"),
        (amira.id, "import"),
    ]
    # The file is gone; confirming again (a second click) imports nothing.
    assert (await client.get(where)).status == 404
    assert (await client.post(f"{where}/confirm", data={"csrf": csrf})).status == 404
    assert len(await reviews(parts)) == 2
    async with parts.db.session() as s:
        assert (await s.exec(select(ReviewImport))).all() == []

    # The same file again: nothing new, nothing changed.
    where, check = await upload_and_check(client, csrf, file)
    assert counted(check) == "0 new, 0 updated, 2 unchanged, 2 not imported"
    assert "There is nothing to import" in check
    await client.post(f"{where}/confirm", data={"csrf": csrf})
    assert [r.id for r in await reviews(parts)] == [sam.id, amira.id]
    assert (await parts.repos.reviews.get(review_id=sam.id)).review_at == sam.review_at


async def test_a_changed_row_updates_its_review(client, parts):
    await make_staff(parts, email=ADMIN, role="admin")
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    await make_staff(parts, email=PAT, role="iro", name="Pat Lee")
    csrf = await signed_in(client, ADMIN)
    where, _ = await upload_and_check(client, csrf, export(*GOOD))
    await client.post(f"{where}/confirm", data={"csrf": csrf})
    sam, _ = await reviews(parts)

    # Moved to the afternoon, another room, another IRO; Amira's row as before.
    moved = f"CR-1001;Sam;03/04/2012;{day(20)};14:00;Oak House, room 2;{PAT};English"
    where, check = await upload_and_check(client, csrf, export(moved, GOOD[1]))
    assert counted(check) == "0 new, 1 updated, 1 unchanged, 0 not imported"
    assert "Changes: IRO, IRO name, time, place." in check
    await client.post(f"{where}/confirm", data={"csrf": csrf})
    now = await parts.repos.reviews.get(review_id=sam.id)
    assert now.review_at.astimezone(LONDON).strftime("%H:%M") == "14:00"
    assert (now.place, now.iro_email, now.iro_name) == ("Oak House, room 2", PAT, "Pat Lee")
    (updated,) = await audit_rows(parts, "review.updated")
    assert updated.review_id == sam.id
    assert updated.details["fields"] == ["iro_email", "iro_name", "place", "review_at"]
    # A file with no time keeps the review's own time.
    where, check = await upload_and_check(client, csrf, export(moved, GOOD[1]), {"review_time": ""})
    assert counted(check) == "0 new, 0 updated, 2 unchanged, 0 not imported"


async def test_every_bad_row_is_named_by_row_and_column(client, parts, new_review):
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    # Kim has a review to come already, on another day.
    await new_review(case_reference="CR-9", first_name="Kim", iro_email=JO)
    csrf = await signed_in(client, JO)
    header = "Case Ref,First name,Age,Review date,Review time,IRO email,UASC"
    rows = [
        f"CR-1,Ann,14,{day(10)},10:00,,no",  # row 3: fine, and Jo's (no IRO email)
        f"CR-2,Bo,40,{day(10)},,,",  # 4: age
        f"CR-3,Cy,12,{day(-3)},,,",  # 5: passed
        f"CR-4,Di,12,{day(10)},25:00,,",  # 6: time
        f"CR-5,Ed,12,{day(10)},,{PAT},",  # 7: another IRO's
        f"CR-6,Fi,12,{day(10)},,,maybe",  # 8: not yes or no
        f",Gus,12,{day(10)},,,",  # 9: no case reference
        f"CR-1,Ann,14,{day(10)},10:00,,no",  # 10: row 3 again
        f"CR-9,Kim,12,{day(30)},,,",  # 11: Kim's other review
        f"CR-10,Hal,12,{day(10)},,not-an-email,",  # 12
        f"CR-11,Ivy,12,{day(10)},,,,surplus",  # 13: one value too many
        f"CR-12,Jay,12,{day(2000)},,,",  # 14: the year?
        f"CR-1,Ann,14,{day(40)},10:00,,no",  # 15: Ann again, another day
    ]
    _, check = await upload_and_check(client, csrf, export(*rows, header=header))
    assert counted(check) == "1 new, 0 updated, 0 unchanged, 12 not imported"
    text = check.replace("&#39;", "'")
    for expected in (
        "Row 4, column 'Age': '40' is not an age from 3 to 25",
        f"Row 5, column 'Review date': {day(-3)} has passed",
        "Row 6, column 'Review time': '25:00' is not a time",
        f"Row 7, column 'IRO email': this review is {PAT}'s: you can import your own reviews only",
        "Row 8, column 'UASC': 'maybe' is not yes or no",
        "Row 9, column 'Case Ref': empty: every review needs the child's case reference",
        "Row 10, the same case reference and review date as row 3: left out",
        f"Row 11, this child already has a review to come, on {day(14)}",
        "Row 12, column 'IRO email': 'not-an-email' is not an email address",
        "Row 13, it has 8 values but the header row has 7 columns",
        "Row 14, column 'Review date': ",
        "Row 15, the same case reference as row 3, on another date",
    ):
        assert expected in text, expected


async def test_an_iro_imports_their_own_reviews(client, parts):
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    csrf = await signed_in(client, JO)
    header = "Child ID,Forename,Date of birth,Date of review"
    where, check = await upload_and_check(
        client, csrf, export(f"77,Sam,03/04/2012,{day(20)}", header=header)
    )
    assert counted(check) == "1 new, 0 updated, 0 unchanged, 0 not imported"
    done = await (await client.post(f"{where}/confirm", data={"csrf": csrf})).text()
    (sam,) = await reviews(parts)
    assert (sam.iro_email, sam.iro_name) == (JO, "Jo Smith")
    assert f'href="/staff/reviews/{sam.id}"' in done
    # Their board shows it at once.
    assert "Sam" in await (await client.get("/staff")).text()


async def test_who_may_import_and_whose_import_it_is(client, parts, second_browser):
    for email, role in ((ADMIN, "admin"), (JO, "iro"), ("duty@council.example", "duty")):
        await make_staff(parts, email=email, role=role)
    await make_staff(parts, email="pip@council.example", role="participation")
    csrf = await signed_in(client, JO)
    response = await upload(client, csrf, export(*GOOD))
    where = response.headers["Location"]
    assert (await client.get(where)).status == 200
    # Participation and duty: no import at all; another person: not their import.
    for email in ("pip@council.example", "duty@council.example", ADMIN):
        second_browser.cookie_jar.clear()
        page = await second_browser.get("/staff/sign-in")
        token = hidden(await page.text(), "form_token")
        await second_browser.post(
            "/staff/sign-in",
            data={"form_token": token, "email": email, "password": "correct horse battery staple"},
        )
        assert (await second_browser.get("/staff/import")).status == (
            200 if email == ADMIN else 404
        )
        assert (await second_browser.get(where)).status == 404
        assert (await second_browser.get(f"{where}/check")).status == 404
    # An hour after the upload it is gone, and housekeeping deletes the file.
    async with parts.db.session() as s:
        row = (await s.exec(select(ReviewImport))).one()
        row.created_at = datetime.now(UTC) - timedelta(hours=2)
        s.add(row)
    assert (await client.get(where)).status == 404
    await housekeeping(parts)
    async with parts.db.session() as s:
        assert (await s.exec(select(ReviewImport))).all() == []


async def test_forms_without_the_csrf_token_change_nothing(client, parts):
    await make_staff(parts, email=JO, role="iro")
    csrf = await signed_in(client, JO)
    refused = await upload(client, "not-the-token", export(*GOOD))
    assert refused.status == 403 and "out of date" in await refused.text()
    async with parts.db.session() as s:
        assert (await s.exec(select(ReviewImport))).all() == []
    where, _ = await upload_and_check(client, csrf, export(*GOOD))
    for path in (where, f"{where}/confirm", f"{where}/cancel"):
        response = await client.post(path, data={"csrf": "wrong"}, allow_redirects=False)
        assert response.status == 403, path
    assert await reviews(parts) == []
    # Cancel, with the token: the file goes, and nothing was imported.
    response = await client.post(f"{where}/cancel", data={"csrf": csrf})
    assert "The import is cancelled and the file deleted" in await response.text()
    assert (await client.get(where)).status == 404
    assert len(await audit_rows(parts, "reviews.import_cancelled")) == 1


@pytest.mark.parametrize(
    ("data", "status", "said"),
    [
        (b"x" * (MAX_BYTES + 1), 413, "The file is larger than 1 MB, so it was not uploaded"),
        (
            export(*[f"CR-{i};Sam;;{day(20)};;;{JO};" for i in range(2001)]),
            400,
            "The file has more than 2,000 rows of reviews",
        ),
        (b"PK\x03\x04 a spreadsheet", 400, "This is a spreadsheet file (Excel), not CSV"),
        (b"", 400, "Choose a CSV file to upload"),
        (b"just one column\r\nCR-1\r\n", 400, "Only one column was found"),
        (b"Case Ref;Date\r\n\r\n", 400, "The file has a header row but no reviews under it"),
    ],
)
async def test_a_file_that_cannot_be_imported_is_refused_kindly(client, parts, data, status, said):
    await make_staff(parts, email=JO, role="iro")
    csrf = await signed_in(client, JO)
    response = await upload(client, csrf, data)
    page = await response.text()
    assert response.status == status and said in page
    assert "Import upcoming reviews" in page  # the upload form again, to try another file


def test_files_as_case_systems_and_spreadsheets_save_them():
    # Excel's CSV on Windows (Windows-1252), UTF-16 with a byte order mark, UTF-8 with one.
    assert decode("Name\nZoë".encode("cp1252")) == "Name\nZoë"
    assert decode("Name\nZoë".encode("utf-16")) == "Name\nZoë"
    assert decode(codecs.BOM_UTF8 + "Name\nZoë".encode()) == "Name\nZoë"
    # Commas, semicolons or tabs; quoted values with the separator inside; blank lines.
    for sep in (",", ";", "\t"):
        table = read_table(f'Ref{sep}Name\n\n1{sep}"Smith{sep} Jo"\n\n2{sep}Ali\n')
        assert table.headers == ["Ref", "Name"]
        assert table.rows == [(3, ["1", f"Smith{sep} Jo"]), (5, ["2", "Ali"])]
    # Excel's "sep=" line before the headers.
    table = read_table("sep=;\r\nRef;Name\r\n1;Jo, Smith\r\n")
    assert (table.headers, table.rows) == (["Ref", "Name"], [(3, ["1", "Jo, Smith"])])
    # UK dates, with or without a time, however the export writes them; never US dates.
    assert parse_when("14/03/2027") == (datetime(2027, 3, 14).date(), None)
    assert parse_when("14/03/27 14:30").__repr__() == parse_when("2027-03-14T14:30:00").__repr__()
    assert parse_when("14 Mar 2027 2:30 pm")[1].strftime("%H:%M") == "14:30"
    assert parse_when("14.03.2027 00:00") == (datetime(2027, 3, 14).date(), None)
    assert parse_when("03/14/2027") is None
    # Headers of real exports.
    headers = ["Person ID", "Forename", "Date of Birth", "Next Review Date", "Reviewing Officer"]
    assert guess_mapping(headers) == {
        "case_reference": 0,
        "first_name": 1,
        "date_of_birth": 2,
        "review_date": 3,
        "iro_name": 4,
    }


@pytest.mark.browser
async def test_an_iro_imports_in_a_browser_on_a_phone(client, parts, tmp_path):
    """The whole import by keyboard-reachable labels in Chromium; axe-core finds nothing on
    each page, and each fits a phone's width."""
    from playwright.async_api import async_playwright

    from tests.playground import CHROMIUM, CHROMIUM_ARGS, require_browser_deps
    from tests.staff import PASSWORD
    from tests.test_staff_browser import AXE, PHONE, axe_violations, fits_the_width

    require_browser_deps()
    assert AXE.exists(), "axe-core is missing: run `npm ci`"
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    file = tmp_path / "upcoming.csv"
    file.write_bytes(export(*GOOD, f"CR-1003;Kim;01/01/2011;31/02/2027;;;{JO};"))
    base = str(client.make_url("/")).rstrip("/")
    violations: dict[str, list] = {}
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            bypass_csp=True,  # only so that axe can be injected; the pages need no script
        )
        page = context.pages[0] if context.pages else await context.new_page()
        try:
            await page.goto(f"{base}/staff/sign-in")
            await page.get_by_label("Email").fill(JO)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_label("Password").press("Enter")
            await page.wait_for_url(f"{base}/staff")
            await page.get_by_role("link", name="Import reviews").click()
            await page.get_by_role("heading", name="Import upcoming reviews").wait_for()
            violations["upload"] = await axe_violations(page)
            assert await fits_the_width(page)
            await page.get_by_label("CSV file").set_input_files(str(file))
            await page.get_by_role("button", name="Upload and choose the columns").click()
            await page.get_by_role("heading", name="Choose the columns").wait_for()
            violations["columns"] = await axe_violations(page)
            assert await fits_the_width(page)
            assert await page.get_by_label("Case reference").input_value() == "0"
            await page.get_by_role("button", name="Check the rows").click()
            await page.get_by_role("heading", name="Check the import").wait_for()
            violations["check"] = await axe_violations(page)
            assert await fits_the_width(page)
            await page.get_by_role("button", name="Import 2 new reviews").click()
            await page.get_by_role("heading", name="Reviews imported").wait_for()
            violations["done"] = await axe_violations(page)
            await page.get_by_role("link", name="Sam").click()
            await page.get_by_role("heading", name="To do before the review").wait_for()
        finally:
            await page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
            await context.close()
    assert violations == {"upload": [], "columns": [], "check": [], "done": []}, violations


async def test_a_linked_child_is_told_when_an_import_moves_their_review(
    client, parts, connector, new_chat
):
    from bot import reviews as review_changes
    from tests.test_staff_reviews import told

    conn, _ = connector
    await make_staff(parts, email=ADMIN, role="admin")
    await make_staff(parts, email=JO, role="iro", name="Jo Smith")
    csrf = await signed_in(client, ADMIN)
    where, _ = await upload_and_check(client, csrf, export(*GOOD))
    await client.post(f"{where}/confirm", data={"csrf": csrf})
    sam, _ = await reviews(parts)
    _, code, _ = await review_changes.new_code(parts.services, review_id=sam.id, by=None)
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(code)

    # The case system moved Sam's review to the afternoon, in another room (a review on
    # another day is another review to the import: moving a date is done by hand).
    since = len(conn.sent)
    moved = f"CR-1001;Sam;03/04/2012;{day(20)};14:00;Oak House, room 2;{JO};English"
    where, check = await upload_and_check(client, csrf, export(moved, GOOD[1]))
    assert counted(check) == "0 new, 1 updated, 1 unchanged, 0 not imported"
    await client.post(f"{where}/confirm", data={"csrf": csrf})
    notice = await told(conn, chat, since)
    assert "your review meeting has changed" in notice
    assert "14:00" in notice and "Oak House, room 2" in notice
    # Their code still works until the day after the review, as for a move made by hand.
    now = await parts.repos.reviews.get(review_id=sam.id)
    assert now.invite_expires_at > now.review_at
