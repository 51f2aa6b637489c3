"""Natural persons' identities (DOMAIN §9): refs by keyed hash, sealing under per-person data
keys, opening for display (masked) or reveal, and crypto-shredding.

Nothing here keeps a clear identity: a name and number are sealed the moment they arrive and
opened only to be masked or revealed in one answer. Data keys are unwrapped per use, never
cached, so an erasure is in force in every process at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from uuid import UUID

import orjson

from ledger.domain.persons import (
    ERASED,
    SEALED,
    PersonIdentity,
    mask_name,
    person_ref,
    sealed,
    sealed_refs,
)
from ledger.service.ciphers import KEY_BYTES, SM4_GCM, CipherError, KeyVault, seal, unseal
from ledger.store.keys import DataKeyTable

_SEALED_BYTES = re.compile(SEALED.pattern.encode())


class IdentityUnavailable(Exception):
    """The keys to open (or to keep) personal information are missing or not this store's."""


class Identities:
    """Seals and opens the identities of one store's natural persons."""

    def __init__(
        self,
        table: DataKeyTable,
        vault: KeyVault | None,
        secret: bytes | None,
        cipher: str = SM4_GCM,
    ) -> None:
        if cipher not in KEY_BYTES:
            raise IdentityUnavailable(
                f"unknown cipher '{cipher}': use {', '.join(sorted(KEY_BYTES))}"
            )
        self.table = table
        self.vault = vault
        self.secret = secret
        self.cipher = cipher
        #: The keys were checked against (or recorded in) the store by this process.
        self._writable_checked = False

    # -- keys and their checks ------------------------------------------------------------------

    def _secret_check(self) -> str | None:
        if self.secret is None:
            return None
        return hmac.digest(self.secret, b"credit-ledger person secret check", "sha256")[:8].hex()

    def check(self) -> None:
        """Refuse to open a store holding persons without its master key and ledger secret,
        rather than serve ciphertext (or seal under a key the store's data keys do not know)."""
        recorded = self.table.meta()
        if recorded:
            self._matches(recorded)

    def _matches(self, recorded: dict[str, str]) -> None:
        if self.vault is None:
            raise IdentityUnavailable(
                "this store holds natural persons' personal information, sealed under data keys "
                "that a master key wraps, and no master key is configured: set "
                "CREDIT_LEDGER_MASTER_KEY (64 hex characters) or CREDIT_LEDGER_MASTER_KEY_FILE. "
                "Refusing to start rather than serve ciphertext."
            )
        if recorded.get("master") != self.vault.check_value():
            raise IdentityUnavailable(
                "the configured master key is not the one this store's data keys are wrapped "
                "with (CREDIT_LEDGER_MASTER_KEY / CREDIT_LEDGER_MASTER_KEY_FILE)"
            )
        if self.secret is None:
            raise IdentityUnavailable(
                "this store holds natural persons, named by a keyed hash of their identity "
                "number, and no ledger secret is configured: set CREDIT_LEDGER_PERSON_SECRET"
            )
        if recorded.get("secret") != self._secret_check():
            raise IdentityUnavailable(
                "the configured CREDIT_LEDGER_PERSON_SECRET is not the one this store's persons "
                "are named with"
            )

    def _configured(self) -> None:
        """Refuse to name or seal a person without both keys, saying which setting is missing."""
        missing = [
            name
            for name, value in (
                ("CREDIT_LEDGER_MASTER_KEY (or CREDIT_LEDGER_MASTER_KEY_FILE)", self.vault),
                ("CREDIT_LEDGER_PERSON_SECRET", self.secret),
            )
            if value is None
        ]
        if missing:
            raise IdentityUnavailable(
                "natural persons need the master key of their data keys and the ledger secret "
                f"of their refs; not configured: {', '.join(missing)}"
            )

    def _writable(self) -> KeyVault:
        """The vault, once the keys are known to be this store's (recorded with the first)."""
        self._configured()
        assert self.vault is not None
        if not self._writable_checked:
            self._matches(
                self.table.record_meta(
                    {"master": self.vault.check_value(), "secret": self._secret_check() or ""}
                )
            )
            self._writable_checked = True
        return self.vault

    # -- refs -----------------------------------------------------------------------------------

    def ref_for(self, id_number: str) -> str:
        """The ref of a (normalised) identity number: a keyed hash, never a plain one."""
        if self.secret is None:
            self._configured()
        assert self.secret is not None
        digest = hmac.digest(self.secret, id_number.encode(), hashlib.sha256)
        return person_ref(UUID(bytes=digest[:16]))

    # -- sealing and opening --------------------------------------------------------------------

    def seal(self, ref: str, identity: PersonIdentity) -> str:
        """The identity sealed under the person's data key (made with the first sealing)."""
        vault = self._writable()
        stored = self.table.get([ref]).get(ref)
        if stored is None:
            fresh = os.urandom(KEY_BYTES[self.cipher])
            stored = self.table.add(ref, self.cipher, vault.wrap(self.cipher, fresh, ref))
        cipher, wrapped = stored
        key = vault.unwrap(cipher, wrapped, ref)
        plain = orjson.dumps({"name": identity.name, "id_number": identity.id_number})
        blob = seal(cipher, key, plain, ref.encode())
        return sealed(ref, base64.urlsafe_b64encode(blob).decode().rstrip("="))

    def _keys(self, refs: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        """The unwrapped (cipher, data key) of each ref still holding one."""
        wanted = set(refs)
        if not wanted:
            return {}
        found = self.table.get(wanted)
        if found and self.vault is None:
            self._matches({})
        assert self.vault is not None or not found
        return {
            ref: (cipher, self.vault.unwrap(cipher, wrapped, ref))  # type: ignore[union-attr]
            for ref, (cipher, wrapped) in found.items()
        }

    @staticmethod
    def _open(keys: dict[str, tuple[str, bytes]], ref: str, blob: str) -> PersonIdentity | None:
        if ref not in keys:
            return None
        cipher, key = keys[ref]
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        try:
            values = orjson.loads(unseal(cipher, key, raw, ref.encode()))
        except CipherError:
            return None
        return PersonIdentity(str(values["name"]), str(values["id_number"]))

    def reveal(self, token: str) -> PersonIdentity | None:
        """The identity in a sealed token in the clear, or None when it was erased."""
        match = SEALED.fullmatch(token)
        if match is None:
            return None
        ref, blob = match.groups()
        return self._open(self._keys([ref]), ref, blob)

    def shown(self, text: str) -> str:
        """A text with every sealed identity in it shown as its masked name (`[erased]` when
        the key is destroyed): how any output carries a person."""
        refs = sealed_refs(text)
        if not refs:
            return text
        keys = self._keys(refs)

        def masked(match: re.Match[str]) -> str:
            identity = self._open(keys, match.group(1), match.group(2))
            return ERASED if identity is None else mask_name(identity.name)

        return SEALED.sub(masked, text)

    def shown_bytes(self, body: bytes) -> bytes:
        """`shown` of an answer's UTF-8 bytes (JSON, CSV), untouched when it carries no one."""
        if b"pii1." not in body:
            return body
        keys = self._keys(sealed_refs(body))

        def masked(match: re.Match[bytes]) -> bytes:
            identity = self._open(keys, match.group(1).decode(), match.group(2).decode())
            return (ERASED if identity is None else mask_name(identity.name)).encode()

        return _SEALED_BYTES.sub(masked, body)

    def destroy(self, ref: str) -> None:
        """Destroy a person's data key: what was sealed under it can never be opened again."""
        self.table.destroy(ref)
