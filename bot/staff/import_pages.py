"""The pages of the CSV import (bot/staff/imports.py): upload, choose the columns, the dry run,
confirm or cancel. For admins (any IRO's reviews) and IROs (their own); an import is its
uploader's alone: anyone else, like any other role, gets "not found"."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from bot.parts import PARTS
from bot.staff.board import when
from bot.staff.imports import (
    FIELDS,
    KEEP,
    MAX_BYTES,
    MAX_ROWS,
    SEPARATORS,
    FileRefused,
    Plan,
    Table,
    Who,
    apply_plan,
    check_mapping,
    decode,
    guess_mapping,
    plan_import,
    read_table,
)
from bot.staff.sessions import Signed
from storage.models import ReviewImport
from storage.types import one_line, utcnow

if TYPE_CHECKING:
    from bot.staff.pages import StaffPages

ROLES = ("iro", "admin")
OUTCOMES = {
    "new": "New",
    "unchanged": "Unchanged",
    "updated": "Updated",
    "error": "Not imported",
}
NOTICES = {"cancelled": "The import is cancelled and the file deleted. Nothing was changed."}


class TooBig(ValueError):
    pass


class BadUpload(ValueError):
    pass


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := await part.read_chunk(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise TooBig
        chunks.append(chunk)
    return b"".join(chunks)


async def read_upload(request: web.Request) -> tuple[str | None, str, bytes | None]:
    """The form's CSRF token, the file's name and its bytes, read as they come (never more
    than MAX_BYTES of a file: the app's body limit is for forms, far smaller)."""
    csrf: str | None = None
    name, data = "", None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise BadUpload
            if part.name == "csrf":
                csrf = (await _read_part(part, 200)).decode("ascii", "replace")
            elif part.name == "file":
                name = one_line(part.filename or "")[:120]
                data = await _read_part(part, MAX_BYTES)
    except TooBig:
        raise
    except (ValueError, AssertionError, KeyError, LookupError, RuntimeError) as exc:
        raise BadUpload from exc
    return csrf, name, data


class ImportPages:
    def __init__(self, pages: StaffPages) -> None:
        self.pages = pages
        self.repos = pages.repos
        self.services = pages.services
        self.settings = pages.settings

    def add_routes(self, app: web.Application) -> None:
        r, page = app.router, self.pages._page
        base = r"/staff/import"
        one = base + r"/{import_id:\d{1,9}}"
        r.add_get(base, page(self.upload_form, *ROLES))
        r.add_post(base, page(self.upload, *ROLES, own_form=True))
        r.add_get(one, page(self.columns_form, *ROLES))
        r.add_post(one, page(self.columns, *ROLES))
        r.add_get(one + "/check", page(self.check, *ROLES))
        r.add_post(one + "/confirm", page(self.confirm, *ROLES))
        r.add_post(one + "/cancel", page(self.cancel, *ROLES))

    # --- upload --------------------------------------------------------------------------------

    async def upload_form(
        self,
        request: web.Request,
        signed: Signed,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        return self.pages.render(
            "import_upload.html",
            signed=signed,
            title="Import upcoming reviews",
            error=error,
            max_mb=MAX_BYTES // 1_000_000,
            max_rows=MAX_ROWS,
            keep_minutes=int(KEEP.total_seconds() // 60),
            notice=NOTICES.get(request.query.get("done", "")),
            status=status,
        )

    async def upload(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        try:
            csrf, name, data = await read_upload(request)
        except TooBig:
            return await self.upload_form(
                request,
                signed,
                error=f"The file is larger than {MAX_BYTES // 1_000_000} MB, so it was not "
                "uploaded. Import it in parts (for example a month of reviews at a time), or "
                "leave out the columns MyReview does not use.",
                status=413,
            )
        except BadUpload:
            return await self.upload_form(
                request, signed, error="The upload could not be read. Try again.", status=400
            )
        if not self.pages.auth.csrf_ok(signed, csrf):
            return self.pages.render(
                "message.html",
                signed=signed,
                status=403,
                title="This form is out of date",
                message="Nothing was changed. Go back, reload the page and try again.",
            )
        if not data:
            return await self.upload_form(
                request, signed, error="Choose a CSV file to upload.", status=400
            )
        try:
            text = decode(data)
            table = read_table(text)
        except FileRefused as exc:
            return await self.upload_form(request, signed, error=str(exc), status=400)
        member = signed.member
        async with self.repos.db.unit_of_work():
            row = await self.repos.imports.create(
                staff_id=member.id or 0, file_name=name, text=text
            )
            await self.repos.audit.record(
                action="reviews.import_uploaded",
                staff_id=member.id,
                details={"import": row.id, "rows": len(table.rows)},
            )
        raise web.HTTPSeeOther(f"/staff/import/{row.id}")

    # --- the import in progress -----------------------------------------------------------------

    async def _mine(self, request: web.Request, signed: Signed) -> ReviewImport | None:
        return await self.repos.imports.get(
            import_id=int(request.match_info["import_id"]),
            staff_id=signed.member.id or 0,
            since=utcnow() - KEEP,
        )

    def _gone(self, signed: Signed) -> web.Response:
        """An import that is not theirs, never was, or has ended: the same "not found"."""
        return self.pages.render(
            "message.html",
            signed=signed,
            status=404,
            title="Not found",
            message="There is no import here that you can open. An import ends when it is "
            f"confirmed or cancelled, or {int(KEEP.total_seconds() // 60)} minutes after the "
            "upload: upload the file again to start again.",
        )

    def _table(self, row: ReviewImport) -> Table:
        return read_table(row.text)

    async def columns_form(
        self,
        request: web.Request,
        signed: Signed,
        *,
        row: ReviewImport | None = None,
        chosen: dict[str, int] | None = None,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        row = row or await self._mine(request, signed)
        if row is None:
            return self._gone(signed)
        table = self._table(row)
        mapping = chosen if chosen is not None else (row.mapping or guess_mapping(table.headers))
        admin = signed.member.holds("admin")
        return self.pages.render(
            "import_columns.html",
            signed=signed,
            title="Choose the columns",
            import_id=row.id,
            file_name=row.file_name,
            rows=len(table.rows),
            separator=SEPARATORS[table.separator],
            columns=[
                (i, h or f"Column {i + 1} (no header)", table.example(i))
                for i, h in enumerate(table.headers)
            ],
            fields=[
                (f, mapping.get(f.name), f.required or (admin and f.name == "iro_email"))
                for f in FIELDS
            ],
            admin=admin,
            errors=errors or [],
            status=status,
        )

    async def columns(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        row = await self._mine(request, signed)
        if row is None:
            return self._gone(signed)
        form = await request.post()
        chosen = {f.name: str(form.get(f.name, ""))[:10] for f in FIELDS}
        table = self._table(row)
        mapping, errors = check_mapping(
            chosen, len(table.headers), for_admin=signed.member.holds("admin")
        )
        if errors:
            return await self.columns_form(
                request, signed, row=row, chosen=mapping, errors=errors, status=400
            )
        await self.repos.imports.set_mapping(import_id=row.id or 0, mapping=mapping)
        raise web.HTTPSeeOther(f"/staff/import/{row.id}/check")

    async def _plan(self, row: ReviewImport, signed: Signed, mapping: dict[str, int]) -> Plan:
        staff = await self.repos.staff.everyone()
        who = Who(member=signed.member, staff={m.email: m for m in staff})

        async def existing(keys: list[str]) -> Any:
            return await self.repos.reviews.of_children(child_keys=keys)

        return await plan_import(
            self._table(row),
            mapping,
            who=who,
            content=self.services.content_source.current(),
            tz=self.services.timezone,
            secret=self.settings.secret_key.get_secret_value(),
            now=utcnow(),
            existing=existing,
        )

    async def check(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        """The dry run: each row's result, nothing written."""
        row = await self._mine(request, signed)
        if row is None:
            return self._gone(signed)
        if row.mapping is None:
            raise web.HTTPSeeOther(f"/staff/import/{row.id}")
        plan = await self._plan(row, signed, row.mapping)
        tz = self.services.timezone
        return self.pages.render(
            "import_check.html",
            signed=signed,
            title="Check the import",
            import_id=row.id,
            file_name=row.file_name,
            plan=plan,
            counts={o: plan.count(o) for o in OUTCOMES},
            outcomes=OUTCOMES,
            when=lambda at: when(at, tz) if isinstance(at, datetime) else "",
        )

    async def confirm(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        """Imports what the dry run showed, worked out again now. The import is claimed first
        (its file deleted, in the same transaction as the working out), so a second confirm
        finds nothing to import; then the rows are written, batch by batch."""
        member = signed.member
        async with self.repos.db.unit_of_work():
            row = await self._mine(request, signed)
            if row is None or row.mapping is None:
                return self._gone(signed)
            plan = await self._plan(row, signed, row.mapping)
            await self.repos.imports.delete(import_id=row.id or 0)
        done = await apply_plan(
            plan,
            repos=self.repos,
            services=self.services,
            secret=self.settings.secret_key.get_secret_value(),
            staff_id=member.id,
            import_id=row.id or 0,
        )
        if done.updated:
            # A linked child whose review moved is told now, not at the next look.
            parts = request.app.get(PARTS)
            if parts is not None:
                parts.notices.wake()
        tz = self.services.timezone
        return self.pages.render(
            "import_done.html",
            signed=signed,
            title="Reviews imported",
            counts={
                "unchanged": plan.count("unchanged") + done.skipped,
                "error": plan.count("error"),
            },
            created=[(r, when(r.review_at, tz)) for r in done.created],
            updated=[(r, when(r.review_at, tz)) for r in done.updated],
            # Links to the reviews they can read: their own, as their IRO.
            links=member.email if member.holds("iro") else None,
        )

    async def cancel(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        async with self.repos.db.unit_of_work():
            row = await self._mine(request, signed)
            if row is None:
                return self._gone(signed)
            await self.repos.imports.delete(import_id=row.id or 0)
            await self.repos.audit.record(
                action="reviews.import_cancelled",
                staff_id=signed.member.id,
                details={"import": row.id},
            )
        raise web.HTTPSeeOther("/staff/import?done=cancelled")
