"""Children's words encrypted per field at rest (AES-256-GCM, from `cryptography`).

A sealed value reads `v1:<key id>:<base64 of nonce + ciphertext + tag>`. The key id beside each
value lets keys be rotated while the bot runs: new values are sealed with the first key in
MYREVIEW_DATA_KEYS, older keys still open what they sealed, and `myreview keys rotate` re-seals
old values with the current key (README "Keys"). The column's name is the associated data, so a
value copied into another column does not open.

Columns declare `SealedText("answer.value")` or `SealedJSON(...)`; the engine's dialect carries
the keyring (`attach`), so the models stay plain SQLModel and no key lives in a global.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from storage.types import one_line

PREFIX = "v1:"
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")
_NONCE = 12
_ATTR = "myreview_keyring"


class DataKeyError(ValueError):
    """MYREVIEW_DATA_KEYS cannot be used; says why, never showing a key."""


class SealedValueError(RuntimeError):
    """A stored value cannot be opened: its key is not configured, or it was altered."""


def missing_keys_error(key_ids: list[str]) -> DataKeyError:
    """Stored values are sealed with keys that are not configured: what to do, naming them."""
    which = ", ".join(key_ids)
    keys = "key" if len(key_ids) == 1 else "keys"
    return DataKeyError(
        f"values in the database are sealed with {keys} {which}, which MYREVIEW_DATA_KEYS does "
        f"not hold. Not starting: what they sealed could not be read. Put the {keys} back, "
        "after the current one, start, and run `myreview keys rotate` until it says older "
        "keys can be removed; only then take them out"
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_entry(key_id: str | None = None) -> str:
    """A fresh `id:key` entry for MYREVIEW_DATA_KEYS (256 random bits)."""
    key_id = key_id or datetime.now(UTC).strftime("k%Y%m%d") + secrets.token_hex(2)
    return f"{key_id}:{_b64(AESGCM.generate_key(bit_length=256))}"


def _printable(raw: bytes) -> bool:
    return all(32 <= b < 127 or b in (9, 10, 13) for b in raw)


def longest_step_run(values: list[int]) -> int:
    """The longest stretch in which each value is one more, or one less, than the one before
    it (0123..., dcba...): how counting and alphabet runs look."""
    best = run = 1 if values else 0
    step = 0
    for a, b in zip(values, values[1:], strict=False):
        if b - a in (1, -1) and (run == 1 or b - a == step):
            run, step = run + 1, b - a
        elif b - a in (1, -1):
            run, step = 2, b - a
        else:
            run, step = 1, 0
        best = max(best, run)
    return best


def weak_key_bytes(raw: bytes) -> str | None:
    """Why `raw` cannot be random key material, or None if it may be. 32 random bytes are
    almost never all alike, all printable, counting, or mostly repeats: each test below fails
    random bytes less than once in a billion tries. Says why, never the bytes."""
    if not raw:
        return "it is empty"
    if len(set(raw)) == 1:
        return "every byte is the same"
    if _printable(raw):
        return "it is text (base64 of words), not random bytes"
    if longest_step_run(list(raw)) >= 6:
        return "its bytes count up or down"
    if len(raw) <= 256 and len(set(raw)) < 0.6 * len(raw):
        return "it repeats a few bytes"
    return None


@dataclass(frozen=True)
class Keyring:
    """Data keys by id; `current` seals, every key opens."""

    keys: dict[str, AESGCM]
    current: str

    @classmethod
    def parse(cls, spec: str, *, setting: str = "MYREVIEW_DATA_KEYS") -> Keyring:
        """`id:key,id:key`, the first sealing new values. Errors name the entry by position."""
        entries = [e.strip() for e in spec.replace("\n", ",").split(",") if e.strip()]
        if not entries:
            raise DataKeyError(f"{setting} is empty; make a key with: myreview keys new")
        keys: dict[str, AESGCM] = {}
        for n, entry in enumerate(entries, 1):
            key_id, sep, material = entry.partition(":")
            where = f"{setting}, entry {n}"
            if not sep or not KEY_ID.fullmatch(key_id):
                raise DataKeyError(
                    f"{where} is not `id:key` with an id of letters, digits, - or _ "
                    "(make one with: myreview keys new)"
                )
            if key_id in keys:
                raise DataKeyError(f"{where} repeats the key id {key_id}")
            try:
                raw = _unb64(material)
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise DataKeyError(
                    f"{where} (id {key_id}) is not 32 bytes in URL-safe base64 "
                    "(make one with: myreview keys new)"
                )
            weak = weak_key_bytes(raw)
            if weak:
                raise DataKeyError(
                    f"{where} (id {key_id}) is not random: {weak}. A data key must be 32 "
                    "random bytes (make one with: myreview keys new)"
                )
            keys[key_id] = AESGCM(raw)
        return cls(keys=keys, current=entries[0].partition(":")[0])

    @classmethod
    def ephemeral(cls) -> Keyring:
        """A one-off key, for a database that lives no longer than this process (tests)."""
        return cls.parse(new_key_entry("ephemeral"))

    def seal(self, plain: str, *, aad: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self.keys[self.current].encrypt(nonce, plain.encode("utf-8"), aad.encode())
        return f"{PREFIX}{self.current}:{_b64(nonce + sealed)}"

    def open(self, stored: str, *, aad: str) -> str:
        key_id, _, body = stored[len(PREFIX) :].partition(":")
        key = self.keys.get(key_id)
        if key is None:
            raise SealedValueError(
                f"a value in {aad} was sealed with key {key_id}, which MYREVIEW_DATA_KEYS does "
                "not hold (keep old keys after the current one until `myreview keys rotate` "
                "has finished)"
            )
        raw = _unb64(body)
        try:
            return key.decrypt(raw[:_NONCE], raw[_NONCE:], aad.encode()).decode("utf-8")
        except InvalidTag:
            raise SealedValueError(f"a value in {aad} has been altered or moved") from None

    @staticmethod
    def key_id_of(stored: str | None) -> str | None:
        """The key that sealed a stored value; None for a plain (older) value."""
        if stored is None or not is_sealed(stored):
            return None
        return stored[len(PREFIX) :].partition(":")[0]


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def attach(dialect: Dialect, keyring: Keyring) -> None:
    """Gives an engine's columns their keys."""
    setattr(dialect, _ATTR, keyring)


def keyring_of(dialect: Dialect) -> Keyring:
    keyring = getattr(dialect, _ATTR, None)
    if keyring is None:
        # Never fall back to plain text: a child's words would be written unprotected.
        raise SealedValueError("this database engine has no data keys (storage.crypto.attach)")
    return keyring


def load_keyring(spec: str, *, dev_key_file: Path | None) -> Keyring:
    """The configured keys; with none configured and a development key file allowed, that
    file's key, made on first use (owner-only)."""
    if spec.strip() or dev_key_file is None:
        return Keyring.parse(spec)
    if not dev_key_file.exists():
        dev_key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(dev_key_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_key_entry("dev") + "\n")
    return Keyring.parse(dev_key_file.read_text(), setting=str(dev_key_file))


class SealedText(TypeDecorator[str]):
    """A string sealed at rest. Empty strings stay empty (a dropped email body says nothing)."""

    impl = Text
    cache_ok = True

    def __init__(self, aad: str) -> None:
        super().__init__()
        self.aad = aad

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or value == "":
            return value
        return keyring_of(dialect).seal(value, aad=self.aad)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or value == "" or not is_sealed(value):
            return value  # written before encryption; `myreview keys rotate` seals it
        return keyring_of(dialect).open(value, aad=self.aad)


class SealedLine(SealedText):
    """A sealed name, place or reference staff entered: written and read as `one_line`, so no
    bidi control or invisible character in it reaches a chat or an email, even from a row
    written before this was done."""

    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return super().process_bind_param(None if value is None else one_line(value), dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        opened = super().process_result_value(value, dialect)
        return None if opened is None else one_line(opened)


class SealedJSON(TypeDecorator[Any]):
    """Any JSON value, sealed at rest. NULL stays NULL."""

    impl = Text
    cache_ok = True

    def __init__(self, aad: str) -> None:
        super().__init__()
        self.aad = aad

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return keyring_of(dialect).seal(plain, aad=self.aad)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            return value  # a JSON column not yet converted (PostgreSQL before 0005)
        if is_sealed(value):
            value = keyring_of(dialect).open(value, aad=self.aad)
        return json.loads(value)
