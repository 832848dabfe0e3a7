"""Store credentials at rest: they decrypt only with the same secret key, for the same store, untampered."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.crypto import DecryptionError, decrypt, encrypt

KEY = "a-connector-secret-key-of-some-length"
TOKEN = "shpat_0123456789abcdef0123456789abcdef"


@settings(max_examples=100, deadline=None)
@given(plaintext=st.text(), store_id=st.integers(1, 2**31), secret_key=st.text(min_size=1))
def test_round_trip(plaintext, store_id, secret_key):
    assert decrypt(secret_key, store_id, encrypt(secret_key, store_id, plaintext)) == plaintext


def test_ciphertext_hides_the_plaintext_and_differs_each_time():
    first, second = encrypt(KEY, 1, TOKEN), encrypt(KEY, 1, TOKEN)
    assert TOKEN.encode() not in first
    assert first != second
    assert decrypt(KEY, 1, first) == decrypt(KEY, 1, second) == TOKEN


def test_does_not_decrypt_for_another_store():
    blob = encrypt(KEY, 1, TOKEN)
    for other in (2, 10, 11):
        with pytest.raises(DecryptionError):
            decrypt(KEY, other, blob)


def test_does_not_decrypt_with_another_secret_key():
    blob = encrypt(KEY, 1, TOKEN)
    for other in (KEY + "x", KEY.upper(), "dev-only-insecure-secret-key"):
        with pytest.raises(DecryptionError):
            decrypt(other, 1, blob)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_tampering_with_any_byte_fails(data):
    blob = encrypt(KEY, 7, TOKEN)
    index = data.draw(st.integers(0, len(blob) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = blob[:index] + bytes([blob[index] ^ flip]) + blob[index + 1:]
    with pytest.raises(DecryptionError):
        decrypt(KEY, 7, tampered)


@pytest.mark.parametrize("blob", [b"", b"\x02" + bytes(40), bytes(41)])
def test_empty_or_unknown_format_fails(blob):
    with pytest.raises(DecryptionError):
        decrypt(KEY, 1, blob)


@settings(max_examples=50, deadline=None)
@given(st.integers(9, 60))
def test_truncated_after_the_nonce_fails(length):
    blob = encrypt(KEY, 1, TOKEN)
    with pytest.raises(DecryptionError):
        decrypt(KEY, 1, blob[:length])


@pytest.mark.parametrize("length", [1, 5, 8])
def test_truncated_inside_the_nonce_fails(length):
    with pytest.raises(DecryptionError):
        decrypt(KEY, 1, encrypt(KEY, 1, TOKEN)[:length])
