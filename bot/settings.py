"""One typed settings object, read from the environment and `.env`."""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.working_hours import parse_days, parse_hours
from storage.crypto import DataKeyError, Keyring, weak_key_bytes

REPO_ROOT = Path(__file__).resolve().parent.parent

# Values that must never protect real children's data, compared with case, spaces and
# punctuation ignored; `.env.example` ships the first.
PLACEHOLDERS = {
    "devonlysecretchangeme",
    "changeme",
    "changethis",
    "changeit",
    "password",
    "passw0rd",
    "secret",
    "secretkey",
    "mysecret",
    "default",
    "example",
    "test",
    "testing",
    "admin",
    "letmein",
    "qwerty",
    "x",
    "xxx",
    "todo",
    "fixme",
    "replaceme",
    "none",
    "null",
    "empty",
    "123456",
    "12345678",
    "1234567890",
}
# Placeholder words that give a value away wherever they appear in it (a random value of 32
# or more characters contains one of these by chance less than once in a billion).
PLACEHOLDER_WORDS = ("changeme", "changethis", "replaceme", "password", "passw0rd", "letmein")
MIN_KEY_BYTES = 32
# Estimated bits of randomness a secret key must hold. A random key of the shortest length
# allowed (32 URL-safe base64 characters) scores about 160 here, hardly ever under 130.
MIN_KEY_BITS = 100
GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
HOW_TO_MAKE_A_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"

# Rows of a UK/US keyboard, each with how far it is set in from the row above.
_ROWS = (("1234567890-=", 0.0), ("qwertyuiop[]", 0.5), ("asdfghjkl;'", 0.75), ("zxcvbnm,./", 1.25))
_SHIFTED = dict(zip('!@#$%^&*()_+{}:"<>?|~', "1234567890-=[];',./\\`", strict=True))


def _keyboard_neighbours() -> dict[str, set[str]]:
    """Each key's neighbours on the keyboard: beside it, and touching it above and below."""
    where = {c: (r, i + off) for r, (row, off) in enumerate(_ROWS) for i, c in enumerate(row)}
    return {
        c: {d for d, (r2, x2) in where.items() if d != c and abs(r - r2) <= 1 and abs(x - x2) < 1.1}
        for c, (r, x) in where.items()
    }


_NEIGHBOURS = _keyboard_neighbours()


def _key_of(c: str) -> str:
    return _SHIFTED.get(c, c.lower())


def _follows(a: str, b: str) -> bool:
    """Whether `b` comes straight after `a` on the keyboard or in the alphabet or digits."""
    ka, kb = _key_of(a), _key_of(b)
    if kb in _NEIGHBOURS.get(ka, ()):
        return True
    same_kind = (ka.isalpha() and kb.isalpha()) or (ka.isdigit() and kb.isdigit())
    return same_kind and abs(ord(ka) - ord(kb)) == 1


def estimated_bits(value: str) -> float:
    """A rough count of the randomness in `value`, as a guesser who tries keyboard walks,
    alphabet runs and repeats first would see it: a character that follows the one before on
    the keyboard or in the alphabet, or repeats it, costs a bit or two; a stretch seen before,
    about as many bits as it takes to say where; any other character, all its alphabet's."""
    pool = sum(
        size
        for present, size in (
            (any(c.islower() for c in value), 26),
            (any(c.isupper() for c in value), 26),
            (any(c.isdigit() for c in value), 10),
            (any(not c.isalnum() for c in value), 33),
        )
        if present
    )
    full = math.log2(max(pool, 2))
    bits, i = 0.0, 0
    while i < len(value):
        c = value[i]
        if i and c == value[i - 1]:
            bits, i = bits + 1, i + 1
            continue
        if i and _follows(value[i - 1], c):
            bits, i = bits + 2, i + 1
            continue
        length = 0
        while i + length < len(value) and value[i : i + length + 1] in value[: i + length]:
            length += 1
        if length >= 3:
            bits, i = bits + math.log2(i) + math.log2(length), i + length
            continue
        bits, i = bits + full, i + 1
    return bits


def _decoded(value: str) -> bytes | None:
    """`value` as the bytes it is base64 or hex of, if it is one of those, else None."""
    text = value.strip().rstrip("=")
    if len(text) < 16:
        return None
    if re.fullmatch(r"[0-9a-fA-F]+", text) and len(text) % 2 == 0:
        return bytes.fromhex(text)
    if re.fullmatch(r"[A-Za-z0-9+/]+|[A-Za-z0-9_-]+", text) and len(text) % 4 != 1:
        try:
            return base64.urlsafe_b64decode(
                text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4)
            )
        except ValueError:
            return None
    return None


def _squash(value: str) -> str:
    return "".join(c for c in value.casefold() if c.isalnum())


def is_placeholder(value: str) -> bool:
    """An empty value, a known placeholder in any case or spelling, or one character repeated."""
    squashed = _squash(value)
    return not squashed or squashed in PLACEHOLDERS or len(set(squashed)) == 1


def _weak_text(value: str) -> str | None:
    if is_placeholder(value) or any(p in _squash(value) for p in PLACEHOLDER_WORDS):
        return "is a placeholder"
    # Random text of 32 or more characters from a 64-letter alphabet has 4 or more bits per
    # character; words, dates and repeated chunks have far fewer.
    counts = [value.count(c) for c in set(value)]
    bits = -sum(n / len(value) * math.log2(n / len(value)) for n in counts)
    if bits < 3.5 or len(set(value)) < 10:
        return "does not look random (too few different characters)"
    pairs = list(zip(value, value[1:], strict=False))
    # A walk along the keyboard or the alphabet follows on at 74% of its pairs or more; a
    # random key at about 20%, and at most 48% in 300,000 made as the README says (at 50%, one
    # in a few hundred thousand such keys was refused). Shorter walks are left to the bits.
    if sum(_follows(a, b) for a, b in pairs) >= 0.7 * len(pairs):
        return "follows the keyboard or the alphabet"
    if estimated_bits(value) < MIN_KEY_BITS:
        return "does not look random (it repeats, or runs along the keyboard or the alphabet)"
    return None


def weak_key(value: str) -> str | None:
    """Why `value` cannot be a key that protects children's data, or None if it can. Says why
    without ever repeating the value. A value that is base64 or hex of something is judged by
    what it decodes to first: a placeholder, words, bytes all alike or counting."""
    if value != value.strip():
        return "has spaces at the start or end (a copy and paste slip?)"
    if is_placeholder(value):
        return "is a placeholder"
    raw = _decoded(value)
    if raw is not None:
        if all(32 <= b < 127 for b in raw):
            why = _weak_text(raw.decode("ascii"))
            if why == "is a placeholder":
                return "is a placeholder (base64 or hex of one)"
            if why:
                return "does not look random (it is base64 or hex of text that does not)"
        else:
            why = weak_key_bytes(raw)
            if why:
                return f"does not look random (decoded, {why})"
            if len(raw) >= MIN_KEY_BYTES and re.fullmatch(r"[0-9a-fA-F]+", value):
                return None  # hex says no more than its bytes, and they pass
    if len(value.encode()) < MIN_KEY_BYTES:
        return f"is shorter than {MIN_KEY_BYTES} bytes"
    return _weak_text(value)


class Settings(BaseSettings):
    """Everything the app reads from its environment; see `.env.example` for each variable."""

    model_config = SettingsConfigDict(
        env_prefix="MYREVIEW_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 3978
    database_url: str = "sqlite+aiosqlite:///var/myreview.db"
    var_dir: Path = Path("var")
    content_dir: Path = REPO_ROOT / "content"
    timezone: str = "Europe/London"
    # Keys the invite-code hashes: a stolen database alone cannot be brute-forced offline.
    secret_key: SecretStr = SecretStr("dev-only-secret-change-me")
    # Seal children's words, names and email bodies at rest: `id:key` entries, comma-separated,
    # the first sealing new values (README "Keys"). Empty in development: a key is made in
    # var/data-keys on first start.
    data_keys: SecretStr = SecretStr("")

    # Bot Framework (Azure Bot) registration; empty means local, unauthenticated use only.
    microsoft_app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = "MultiTenant"
    microsoft_app_id: str = ""
    microsoft_app_password: SecretStr = SecretStr("")
    microsoft_app_tenant_id: str = ""

    # Mail. With no SMTP host, messages are written as .eml files to var/outbox/.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 20.0
    mail_from: str = "MyReview <myreview@localhost>"
    # Azure AI Translator (v3 REST API), for English renderings of what a child wrote in another
    # language in the alerts. Off while the key is empty.
    translator_key: SecretStr = SecretStr("")
    translator_region: str = ""
    translator_endpoint: str = "https://api.cognitive.microsofttranslator.com"
    translator_timeout_seconds: float = Field(default=3.0, gt=0, le=10)
    duty_email: str = "duty-team@localhost"
    # An urgent alert no one has acknowledged on the duty board after this many working hours
    # is emailed to the duty manager (a link, never the child's words), and again after twice
    # as many; never more. Empty manager address: the duty team's address.
    alert_escalation_hours: float = Field(default=2, gt=0, le=100)
    duty_manager_email: str = Field(default="", max_length=254)
    # The council's working hours and days, in MYREVIEW_TIMEZONE, for counting working hours.
    working_hours: str = "09:00-17:00"
    working_days: str = "mon,tue,wed,thu,fri"
    outbox_poll_seconds: float = 5.0
    outbox_max_attempts: int = 12
    # This instance's name on its outbox leases: a restart of the same name releases at once
    # what the process before it was sending. Instances sharing a database need their own.
    instance_name: str = Field(default="main", min_length=1, max_length=200)
    # Notices to children (bot/notices.py: their review moved, was cancelled, was read): how
    # often pending ones are looked for (they are also sent at once when staff make the
    # change), and how many tries before one is given up (back-off: 30 s doubling to 1 hour).
    notice_poll_seconds: float = Field(default=5.0, gt=0)
    notice_max_attempts: int = Field(default=12, ge=1)

    code_attempts_allowed: int = Field(default=5, ge=1)
    code_attempt_window_minutes: int = Field(default=15, ge=1)
    # Wrong codes one channel user may make in a day, whatever conversation they use.
    code_attempts_per_user_per_day: int = Field(default=12, ge=1)
    # Past this many wrong codes in an hour across the service, wrong codes are answered one at
    # a time, one every `code_slow_lane_seconds` (the rest refused as busy), and the duty team
    # is warned. A right code is checked first and always gets in at once (README).
    code_guesses_per_hour: int = Field(default=100, ge=1)
    code_slow_lane_seconds: float = Field(default=10.0, ge=0)
    # Chats one invite code can open while they stay linked (the child's own device and a
    # few more); past it the code is refused kindly and the IRO can give a new one.
    code_devices_allowed: int = Field(default=3, ge=1, le=20)
    # A disclosure that repeats what the same chat raised within these minutes goes in one
    # follow-up email when they are up, not an email each.
    alert_group_minutes: float = Field(default=10, ge=0)
    # At most this many alert emails an hour to the duty team for chats with no review yet;
    # more are stored and go together in the next email (README).
    duty_alerts_per_hour: int = Field(default=10, ge=1)
    # An alert held back by that limit goes in a digest within these minutes, whatever the
    # count: a flood of alerts from throwaway chats never keeps a real child's waiting longer.
    alert_max_hold_minutes: float = Field(default=15, ge=1, le=60)
    # What the help after a worry tells the child about when someone will be in touch: the
    # council's promise, which its safeguarding procedure must keep.
    alert_contact_within: Literal["today", "one_day", "two_days"] = "one_day"
    # A message that arrives this soon after the bot asked its next question was typed before
    # the child could have read that question: it belongs to the answer before (README).
    burst_window_seconds: float = Field(default=1.5, ge=0, le=30)
    # The local advocacy service, shown under "talk to someone" ("Coram Voice: 0808 800 5792").
    advocacy_contact: str = Field(default="", max_length=120)
    # Where young people reach MyReview (https://myreview.council.gov.uk): the start of the chat
    # links the CLI prints. Empty: http://localhost:<port>.
    public_url: str = Field(default="", pattern=r"^(https?://[^\s/?#]+/?)?$", max_length=200)
    # The web door (/chat and its Direct Line channel, bot/directline.py). A page's token lasts
    # this long; the page refreshes it while open.
    web_token_minutes: int = Field(default=30, ge=5, le=60)
    # New web chats: per client address an hour (a children's home shares one address), and
    # across the service a minute. Chats already open are never held back by these.
    web_chats_per_address_per_hour: int = Field(default=20, ge=1)
    web_chats_per_minute: int = Field(default=120, ge=1)
    # Web chat messages, which quote the child, are forgotten this long after the page got them;
    # a web chat quiet this long is forgotten whole (the child opens the link again).
    web_keep_delivered_minutes: int = Field(default=10, ge=1, le=1440)
    web_chat_idle_hours: int = Field(default=2, ge=1, le=72)
    # Behind a reverse proxy that sets X-Forwarded-For and X-Forwarded-Proto (Azure App Service,
    # nginx): the client's address and https are read from them. Never set it otherwise: anyone
    # could then claim any address.
    web_behind_proxy: bool = False
    log_level: str = "INFO"
    # What is kept, and for how long: the council's decision (README "Retention").
    # Wording added in English but not yet in a chat language: shown in English with a note in
    # the child's language (true), or the app refuses to start until it is translated (false).
    english_where_untranslated: bool = True
    retention_days: int = Field(default=90, ge=1)
    # How a child asked us to speak with them (name, pronouns, words, language, interpreter) is
    # kept this many days after the review it came from, for their next review, about six
    # months later (dialogs/carry_over.py); 0: deleted once that review has been held.
    language_of_care_days: int = Field(default=270, ge=0, le=730)
    eml_keep_days: int = Field(default=7, ge=0)
    # The chat page (/chat, bot/web_door.py): the council's name, colour and logo (a PNG, JPEG,
    # WebP or SVG file; empty: none), and the neutral site "Leave quickly" opens in its place.
    council_name: str = Field(default="My Review", min_length=1, max_length=80)
    council_colour: str = Field(default="#1d4f91", pattern=r"^#[0-9a-fA-F]{6}$")
    council_logo: str = ""
    leave_quickly_url: str = Field(
        default="https://www.bbc.co.uk/weather", pattern=r"^https?://[^\s<>\"']+$", max_length=500
    )

    # The staff workspace (/staff, bot/staff/): a session ends after this many minutes without
    # a page opened, and this many hours after sign-in, whatever happens.
    staff_idle_minutes: int = Field(default=30, ge=5, le=240)
    staff_session_hours: int = Field(default=12, ge=1, le=24)
    # A second factor (an authenticator app's code, TOTP) for local staff accounts. Unset: on in
    # production, off otherwise; production refuses `false`.
    staff_second_factor: bool | None = None
    # Signing staff in with Microsoft Entra ID (OpenID Connect, authorisation code with PKCE):
    # the council's tenant (its directory id), and the app registration's client id and secret.
    # Off while the client id is empty; local accounts work either way. The redirect URI to
    # register is <public url>/staff/sign-in/entra/callback.
    entra_tenant_id: str = Field(default="", max_length=64)
    entra_client_id: str = Field(default="", max_length=64)
    entra_client_secret: SecretStr = SecretStr("")
    # Where the tenant's OpenID Connect metadata is found (tests point it at a local fake).
    entra_authority: str = Field(
        default="https://login.microsoftonline.com", pattern=r"^https?://[^\s/?#]+/?$"
    )

    # Staff sign in with a MyReview password (local accounts) as well as with Entra. A council
    # whose staff all sign in with Microsoft turns it off: no password form, no set-up links.
    # It can only be off while Entra sign-in is on (else nobody could sign in).
    staff_local_sign_in: bool = True

    @property
    def entra_enabled(self) -> bool:
        return bool(self.entra_client_id)

    @property
    def second_factor_required(self) -> bool:
        return self.staff_second_factor is not False and (
            self.environment == "production" or bool(self.staff_second_factor)
        )

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        # Messages name the setting, never its value: they end up in logs and terminals.
        if self.environment == "production":
            why = weak_key(self.secret_key.get_secret_value())
            if why:
                raise ValueError(
                    f"MYREVIEW_SECRET_KEY {why}. It must be at least {MIN_KEY_BYTES} random "
                    f"bytes; make one with: {HOW_TO_MAKE_A_KEY}"
                )
            app_password = self.microsoft_app_password.get_secret_value()
            if not self.microsoft_app_id or not app_password:
                raise ValueError(
                    "MYREVIEW_MICROSOFT_APP_ID and MYREVIEW_MICROSOFT_APP_PASSWORD are required "
                    "in production; see README 'Deploying to Azure Bot and Teams'."
                )
            if is_placeholder(app_password) or len(app_password) < 16:
                raise ValueError(
                    "MYREVIEW_MICROSOFT_APP_PASSWORD is a placeholder or too short: use the "
                    "client secret Azure generated for the bot's app registration."
                )
            if not self.data_keys.get_secret_value().strip():
                raise ValueError(
                    "MYREVIEW_DATA_KEYS is required in production: make a key with "
                    "`myreview keys new` and keep a copy where the council keeps secrets"
                )
            try:
                Keyring.parse(self.data_keys.get_secret_value())
            except DataKeyError as exc:
                raise ValueError(str(exc)) from None
            if self.staff_second_factor is False:
                raise ValueError(
                    "MYREVIEW_STAFF_SECOND_FACTOR cannot be false in production: staff who read "
                    "children's words sign in with a password and an authenticator app's code."
                )
            smtp = self.smtp_password.get_secret_value()
            if self.smtp_username and (is_placeholder(smtp) or smtp != smtp.strip()):
                raise ValueError(
                    "MYREVIEW_SMTP_PASSWORD is empty, a placeholder, or has spaces at the start "
                    "or end: use the mail account's real password."
                )
        self._check_entra()
        ZoneInfo(self.timezone)  # fails early with the zone name in the message
        try:
            parse_hours(self.working_hours)
        except ValueError as exc:
            raise ValueError(f"MYREVIEW_WORKING_HOURS: {exc}") from None
        try:
            parse_days(self.working_days)
        except ValueError as exc:
            raise ValueError(f"MYREVIEW_WORKING_DAYS: {exc}") from None
        return self

    def _check_entra(self) -> None:
        if not self.entra_enabled:
            if not self.staff_local_sign_in:
                raise ValueError(
                    "MYREVIEW_STAFF_LOCAL_SIGN_IN=false needs Microsoft Entra sign-in "
                    "(MYREVIEW_ENTRA_CLIENT_ID and the rest): otherwise no one could sign in."
                )
            return
        tenant = self.entra_tenant_id.strip().lower()
        if tenant in ("", "common", "organizations", "consumers"):
            raise ValueError(
                "MYREVIEW_ENTRA_TENANT_ID must be the council's own tenant (its directory id, "
                "a GUID): staff of any other organisation must not be able to sign in."
            )
        if self.environment == "development":
            return
        # Outside development, nothing copied from an example: real ids and a real secret.
        for name, value in (("TENANT_ID", tenant), ("CLIENT_ID", self.entra_client_id)):
            if not GUID.fullmatch(value.strip()) or len(set(value.replace("-", ""))) < 4:
                raise ValueError(
                    f"MYREVIEW_ENTRA_{name} must be the GUID Entra shows for it (Overview of "
                    "the app registration), not a placeholder."
                )
        secret = self.entra_client_secret.get_secret_value()
        if is_placeholder(secret) or secret != secret.strip() or len(secret) < 16:
            raise ValueError(
                "MYREVIEW_ENTRA_CLIENT_SECRET is empty, a placeholder, too short, or has spaces "
                "at the start or end: use the client secret Entra generated for the app."
            )
        if self.environment == "production":
            if not self.entra_authority.startswith("https://"):
                raise ValueError("MYREVIEW_ENTRA_AUTHORITY must be an https:// address.")
            if not self.public_url.startswith("https://"):
                raise ValueError(
                    "MYREVIEW_PUBLIC_URL must be set (https://...) for Entra sign-in: the "
                    "redirect URI registered in Entra is <public url>/staff/sign-in/entra/callback."
                )

    @property
    def escalation_email(self) -> str:
        return self.duty_manager_email.strip() or self.duty_email

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"

    @property
    def dev_key_file(self) -> Path | None:
        """Where development keeps a data key it made itself; production must be given one."""
        return None if self.environment == "production" else self.var_dir / "data-keys"


class UnsafeSetup(RuntimeError):
    """The machine is set up so that children's data would not be safe; says how to fix it."""


def settings_error(exc: ValidationError) -> str:
    """What is wrong with the settings, naming each setting and never showing a value."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(p) for p in err["loc"])
        name = f"MYREVIEW_{where.upper()}: " if where else ""
        lines.append(f"- {name}{err['msg'].removeprefix('Value error, ')}")
    return "Settings are not valid:\n" + "\n".join(lines)
