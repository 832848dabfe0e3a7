"""Store credentials encrypted at rest: AES-256-GCM, key derived from CONNECTOR_SECRET_KEY, store id as associated data.

CONNECTOR_SECRET_KEY may list several keys, current first: encryption uses the current one, decryption
tries each, so a key can rotate without any store losing its credentials (`connector keys rotate`
re-encrypts everything under the current key, after which the old one can go).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from connector.errors import ConnectorError

VERSION = b"\x01"  # leading byte so the format can change without guessing


class DecryptionError(ConnectorError):
    """A stored credential could not be decrypted (wrong CONNECTOR_SECRET_KEY, or it was moved to another store)."""


@lru_cache(maxsize=16)
def _cipher(secret_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"connector store credentials v1").derive(
        secret_key.encode()
    )
    return AESGCM(key)


def _aad(store_id: int) -> bytes:
    # Binding the ciphertext to its store means a token copied into another store's row will not decrypt.
    return f"store:{store_id}".encode()


def _keys(secret_keys: str | Sequence[str]) -> tuple[str, ...]:
    return (secret_keys,) if isinstance(secret_keys, str) else tuple(secret_keys)


def encrypt(secret_keys: str | Sequence[str], store_id: int, plaintext: str) -> bytes:
    """Encrypt under the current key (the first, when given a list)."""
    nonce = os.urandom(12)
    return VERSION + nonce + _cipher(_keys(secret_keys)[0]).encrypt(nonce, plaintext.encode(), _aad(store_id))


def decrypt_with(secret_keys: str | Sequence[str], store_id: int, blob: bytes) -> tuple[str, int]:
    """(the plaintext, the index of the key that decrypted it); DecryptionError when none does."""
    if not blob or blob[:1] != VERSION or len(blob) < 1 + 12 + 16:  # version, nonce, tag
        raise DecryptionError()
    for index, key in enumerate(_keys(secret_keys)):
        try:
            return _cipher(key).decrypt(blob[1:13], blob[13:], _aad(store_id)).decode(), index
        except InvalidTag:
            continue
    raise DecryptionError()


def decrypt(secret_keys: str | Sequence[str], store_id: int, blob: bytes) -> str:
    return decrypt_with(secret_keys, store_id, blob)[0]
