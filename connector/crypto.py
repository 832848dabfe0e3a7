"""Store credentials encrypted at rest: AES-256-GCM, key derived from CONNECTOR_SECRET_KEY, store id as associated data."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ConnectorError

VERSION = b"\x01"  # leading byte so the format can change without guessing


class DecryptionError(ConnectorError):
    """A stored credential could not be decrypted (wrong CONNECTOR_SECRET_KEY, or it was moved to another store)."""


def _key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"connector store credentials v1").derive(
        secret_key.encode()
    )


def _aad(store_id: int) -> bytes:
    # Binding the ciphertext to its store means a token copied into another store's row will not decrypt.
    return f"store:{store_id}".encode()


def encrypt(secret_key: str, store_id: int, plaintext: str) -> bytes:
    nonce = os.urandom(12)
    return VERSION + nonce + AESGCM(_key(secret_key)).encrypt(nonce, plaintext.encode(), _aad(store_id))


def decrypt(secret_key: str, store_id: int, blob: bytes) -> str:
    if not blob or blob[:1] != VERSION or len(blob) < 1 + 12 + 16:  # version, nonce, tag
        raise DecryptionError()
    try:
        return AESGCM(_key(secret_key)).decrypt(blob[1:13], blob[13:], _aad(store_id)).decode()
    except InvalidTag:
        raise DecryptionError() from None
