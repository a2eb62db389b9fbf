"""The access matrix, built from the app's own route table: every /staff route is listed here
with what each role gets, so a route added without a decision fails this test. Pages are
opened for real by each role, signed in: 200 where allowed, the "not found" page (404) where
not, the sign-in page (303) when signed out. A person holding two roles gets what either
role gets, and no more (what each page then shows them: tests/test_staff_roles.py)."""

from __future__ import annotations

from tests.consult import wait_for_eml
from tests.staff import make_staff, signed_in

ROLES = ("iro", "duty", "participation", "admin")
PUBLIC = {"signed out": 200, **dict.fromkeys(ROLES, 200)}
SIGNED_IN = {"signed out": 303, **dict.fromkeys(ROLES, 200)}


def only(*roles: str) -> dict[str, int]:
    return {"signed out": 303, **{r: 200 if r in roles else 404 for r in ROLES}}


# (method, route) -> what each role gets on GET; POST routes: who may (checked by their own
# tests with a CSRF token), signed out always sent to sign in.
MATRIX: dict[tuple[str, str], dict[str, int] | str] = {
    ("GET", "/staff"): SIGNED_IN,
    # Signed in already: sent on to their home page.
    ("GET", "/staff/sign-in"): {"signed out": 200, **dict.fromkeys(ROLES, 303)},
    ("POST", "/staff/sign-in"): "anyone (the form's own cookie and CSRF)",
    # Microsoft Entra ID sign-in, where it is set up (404 otherwise): tests/test_staff_entra.py.
    ("GET", "/staff/sign-in/entra"): "anyone: on to Microsoft (signed in: to their home page)",
    ("GET", "/staff/sign-in/entra/callback"): "anyone back from Microsoft with its flow cookie",
    ("GET", "/staff/set-up"): "anyone holding a set-up link",
    ("POST", "/staff/set-up"): "anyone holding a set-up link",
    ("POST", "/staff/sign-out"): "signed in",
    ("POST", "/staff/sign-out-everywhere"): "signed in",
    ("GET", "/staff/reviews/{review_id}"): only("iro", "duty"),
    # As the review: its IRO, and duty through an alert of that review.
    ("GET", "/staff/reviews/{review_id}/summary"): only("iro", "duty"),
    # The IRO reads the alerts of their own reviews; duty, every alert.
    ("GET", "/staff/alerts/{alert_id}"): only("iro", "duty"),
    # An alert's owner and state are the duty team's; the IRO of its review may add notes.
    ("POST", "/staff/alerts/{alert_id}/take"): "duty",
    ("POST", "/staff/alerts/{alert_id}/assign"): "duty",
    ("POST", "/staff/alerts/{alert_id}/acknowledge"): "duty",
    ("POST", "/staff/alerts/{alert_id}/action"): "duty",
    ("POST", "/staff/alerts/{alert_id}/close"): "duty",
    ("POST", "/staff/alerts/{alert_id}/reopen"): "duty",
    ("POST", "/staff/alerts/{alert_id}/note"): "duty; iro of the alert's review",
    # Reviews made and changed (tests/test_staff_reviews.py): an IRO their own (another IRO's
    # is 404 there), an admin any, without the child's words; marking read, the IRO alone.
    ("GET", "/staff/reviews/new"): only("iro", "admin"),
    ("POST", "/staff/reviews/new"): "iro, admin",
    ("GET", "/staff/reviews/{review_id}/change"): only("iro", "admin"),
    ("POST", "/staff/reviews/{review_id}/reschedule"): "the review's IRO, admin",
    ("POST", "/staff/reviews/{review_id}/reallocate"): "the review's IRO, admin",
    ("POST", "/staff/reviews/{review_id}/cancel"): "the review's IRO, admin",
    ("POST", "/staff/reviews/{review_id}/new-code"): "the review's IRO, admin",
    ("POST", "/staff/reviews/{review_id}/read"): "the review's IRO",
    ("GET", "/staff/admin/reviews"): only("admin"),
    ("POST", "/staff/admin/audit.csv"): "admin",
    ("GET", "/staff/admin/staff"): only("admin"),
    ("POST", "/staff/admin/staff"): "admin",
    ("POST", "/staff/admin/staff/{staff_id}/deactivate"): "admin",
    # A member of staff's roles (tests/test_staff_roles.py).
    ("GET", "/staff/admin/staff/{staff_id}"): only("admin"),
    ("POST", "/staff/admin/staff/{staff_id}/roles"): "admin",
    ("GET", "/staff/static/staff.css"): PUBLIC,
    # Importing upcoming reviews from a CSV: admins (any IRO's), IROs (their own).
    ("GET", "/staff/import"): only("iro", "admin"),
    ("POST", "/staff/import"): "iro, admin (a file upload, streamed: its own CSRF check)",
    # An import is its uploader's alone (here the admin's): anyone else, "not found".
    ("GET", "/staff/import/{import_id}"): only("admin"),
    ("POST", "/staff/import/{import_id}"): "its uploader (iro, admin)",
    ("GET", "/staff/import/{import_id}/check"): only("admin"),
    ("POST", "/staff/import/{import_id}/confirm"): "its uploader (iro, admin)",
    ("POST", "/staff/import/{import_id}/cancel"): "its uploader (iro, admin)",
}


def staff_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/staff") and route.method in ("GET", "POST"):
            found.add((route.method, path))
    return found


async def test_every_staff_route_has_a_decision_for_every_role(
    client, parts, settings, linked_chat
):
    assert staff_routes(client.app) == set(MATRIX), "a /staff route without a row here"
    # Sam's review is Jo's; Jo is the IRO signed in below, so "iro" reaches it (another
    # IRO's review is a 404: tests/test_staff_access.py).
    review, chat = await linked_chat(first_name="Sam", iro_email="iro@council.example")
    await chat.say("English")
    await chat.say("he hits me")
    await wait_for_eml(settings.outbox_dir)
    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    for role in ROLES:
        await make_staff(parts, email=f"{role}@council.example", role=role)
    admin = await parts.repos.staff.by_email(email="admin@council.example")
    upload = await parts.repos.imports.create(
        staff_id=admin.id, file_name="reviews.csv", text="Case Ref,Date\nCR-1,01/01/2030\n"
    )
    await parts.repos.imports.set_mapping(
        import_id=upload.id, mapping={"case_reference": 0, "review_date": 1}
    )
    ids = {
        "review_id": review.id,
        "alert_id": alert.id,
        "import_id": upload.id,
        "staff_id": admin.id,
    }
    checked = 0
    for who in ("signed out", *ROLES):
        if who != "signed out":
            client.session.cookie_jar.clear()
            await signed_in(client, f"{who}@council.example")
        else:
            client.session.cookie_jar.clear()
        for (method, path), expected in MATRIX.items():
            if method != "GET" or not isinstance(expected, dict):
                continue
            url = path.format(**ids)
            response = await client.get(url, allow_redirects=False)
            assert response.status == expected[who], (who, url, response.status)
            checked += 1
        if who == "signed out":
            for (method, path), _ in MATRIX.items():
                if method == "POST" and "sign-in" not in path and "set-up" not in path:
                    url = path.format(**ids)
                    response = await client.post(url, allow_redirects=False)
                    assert response.status == 303, (url, response.status)
    assert checked == 5 * sum(1 for v in MATRIX.values() if isinstance(v, dict))


# Two roles held: a main one and one other (and the other way round: the main role is only
# the home page).
PAIRS = (
    ("iro", "admin"),
    ("admin", "iro"),
    ("duty", "admin"),
    ("participation", "admin"),
    ("iro", "duty"),
    ("duty", "participation"),
)
# The table's import rows are of the admin's import; here the import is the person's own, and
# an import is its uploader's (iro or admin).
OWN_IMPORT = {
    ("GET", "/staff/import/{import_id}"): only("iro", "admin"),
    ("GET", "/staff/import/{import_id}/check"): only("iro", "admin"),
}


async def test_two_roles_reach_the_routes_of_either_and_no_more(
    client, parts, settings, linked_chat
):
    # Sam's review is the person's own (as its IRO, when they are one), with an alert; the
    # import is theirs; another admin keeps the admin role while theirs comes and goes.
    review, chat = await linked_chat(first_name="Sam", iro_email="both@council.example")
    await chat.say("English")
    await chat.say("he hits me")
    await wait_for_eml(settings.outbox_dir)
    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    await make_staff(parts, email="admin@council.example", role="admin")
    both, _ = await make_staff(parts, email="both@council.example", role="iro")
    upload = await parts.repos.imports.create(
        staff_id=both.id, file_name="reviews.csv", text="Case Ref,Date\nCR-1,01/01/2030\n"
    )
    await parts.repos.imports.set_mapping(
        import_id=upload.id, mapping={"case_reference": 0, "review_date": 1}
    )
    ids = {
        "review_id": review.id,
        "alert_id": alert.id,
        "import_id": upload.id,
        "staff_id": both.id,
    }
    # Signed in once: the roles are read again at every request.
    await signed_in(client, "both@council.example")
    for main, other in PAIRS:
        await parts.repos.staff.set_roles(staff_id=both.id, role=main, extra_roles=[other])
        for (method, path), row in MATRIX.items():
            expected = OWN_IMPORT.get((method, path), row)
            if method != "GET" or not isinstance(expected, dict):
                continue
            either = {expected[main], expected[other]}
            want = 200 if 200 in either else expected[main]
            response = await client.get(path.format(**ids), allow_redirects=False)
            assert response.status == want, (main, other, path, response.status)
