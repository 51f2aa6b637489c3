"""The ciphers of personal information: SM4-GCM (GB/T 32907, the default) or AES-256-GCM, the
SM3 hash (GB/T 32905), and the key vault that wraps data keys under a master key.

`KeyVault` is what a KMS would implement later; `MasterKey` is the one shipped, holding a key
from the environment or a key file (`credit_ledger.settings`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SM4_GCM = "sm4-gcm"
AES_256_GCM = "aes-256-gcm"
#: Each cipher's key length in bytes.
KEY_BYTES = {SM4_GCM: 16, AES_256_GCM: 32}
NONCE_BYTES = 12
TAG_BYTES = 16
#: A master key is 32 bytes, given as 64 hex characters.
MASTER_KEY_BYTES = 32


class CipherError(Exception):
    """A key is missing, malformed, or not the one that sealed what it should open."""


def _algorithm(cipher: str, key: bytes) -> algorithms.SM4 | algorithms.AES:
    if cipher == SM4_GCM:
        return algorithms.SM4(key)
    if cipher == AES_256_GCM:
        return algorithms.AES(key)
    raise CipherError(f"unknown cipher '{cipher}': use {SM4_GCM} or {AES_256_GCM}")


def seal(cipher: str, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Nonce, ciphertext and tag of `plaintext` under `key`, bound to `aad`."""
    nonce = os.urandom(NONCE_BYTES)
    encryptor = Cipher(_algorithm(cipher, key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + body + encryptor.tag


def unseal(cipher: str, key: bytes, blob: bytes, aad: bytes) -> bytes:
    """The plaintext `seal` sealed, or CipherError if the key, the aad or the bytes differ."""
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise CipherError("sealed value is too short")
    nonce, body, tag = blob[:NONCE_BYTES], blob[NONCE_BYTES:-TAG_BYTES], blob[-TAG_BYTES:]
    decryptor = Cipher(_algorithm(cipher, key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise CipherError("the key does not open this value") from None


def sm4_encrypt_block(key: bytes, block: bytes) -> bytes:
    """One 16-byte block through SM4 itself (the standard's test vectors check this)."""
    # One block alone, as the standard states its vectors; never used to seal data.
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305
    return encryptor.update(block) + encryptor.finalize()


def sm3(data: bytes) -> str:
    """The SM3 digest of `data`, in hex."""
    return hashlib.new("sm3", data).hexdigest()


class KeyVault(Protocol):
    """Wraps and unwraps data keys; a KMS can stand in for the master key."""

    def wrap(self, cipher: str, data_key: bytes, ref: str) -> bytes:
        """The data key of person `ref`, wrapped."""

    def unwrap(self, cipher: str, wrapped: bytes, ref: str) -> bytes:
        """The data key `wrap` wrapped (CipherError if this vault did not wrap it)."""

    def check_value(self) -> str:
        """A value that identifies the vault's key without revealing it."""


class MasterKey:
    """A master key held in memory: wraps each data key with the data key's own cipher."""

    def __init__(self, key: bytes) -> None:
        if len(key) != MASTER_KEY_BYTES:
            raise CipherError(
                f"the master key must be {MASTER_KEY_BYTES} bytes (64 hex characters), "
                f"got {len(key)} bytes"
            )
        self._key = key

    @classmethod
    def from_text(cls, text: str, *, source: str) -> MasterKey:
        """A master key written as 64 hex characters (in a variable or a key file)."""
        try:
            return cls(bytes.fromhex(text.strip()))
        except ValueError:
            raise CipherError(f"{source} must hold 64 hex characters") from None

    @classmethod
    def from_file(cls, path: Path) -> MasterKey:
        """A master key read from a key file."""
        try:
            text = path.read_text("ascii")
        except (OSError, UnicodeError) as exc:
            raise CipherError(f"cannot read the master key file {path}: {exc}") from None
        return cls.from_text(text, source=f"the master key file {path}")

    def _kek(self, cipher: str) -> bytes:
        # One key-encryption key per cipher, derived, so the master key is never used directly.
        label = f"credit-ledger key wrap {cipher}".encode()
        return hmac.digest(self._key, label, "sha256")[: KEY_BYTES[cipher]]

    def wrap(self, cipher: str, data_key: bytes, ref: str) -> bytes:
        return seal(cipher, self._kek(cipher), data_key, ref.encode())

    def unwrap(self, cipher: str, wrapped: bytes, ref: str) -> bytes:
        return unseal(cipher, self._kek(cipher), wrapped, ref.encode())

    def check_value(self) -> str:
        return hmac.digest(self._key, b"credit-ledger master key check", "sha256")[:8].hex()
