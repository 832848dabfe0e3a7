"""`connector keys rotate`: every stored credential re-encrypted under the current CONNECTOR_SECRET_KEY.

To rotate: put the new key first in CONNECTOR_SECRET_KEY and keep the old one after it (`new,old`),
deploy (everything still decrypts, new writes use the new key), run `connector keys rotate`, then drop
the old key. A credential no key decrypts is reported, never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import crypto
from connector.cli.shared import Context, pass_context
from connector.db import transaction
from connector.models import Store

#: the columns that hold AES-GCM ciphertexts (connector.crypto), all on the stores table
ENCRYPTED = ("access_token_encrypted", "refresh_token_encrypted", "webhook_secret_encrypted")


@dataclass
class Rotation:
    reencrypted: int = 0
    current: int = 0
    #: (store id, column) of credentials no configured key decrypts
    undecryptable: list[tuple[int, str]] = field(default_factory=list)


def rotate(session: Session, secret_keys: Sequence[str]) -> Rotation:
    """Re-encrypt under secret_keys[0] whatever an older key of the list encrypted, in the caller's transaction."""
    rotation = Rotation()
    for store in session.scalars(select(Store).order_by(Store.id).with_for_update()):
        for column in ENCRYPTED:
            blob = getattr(store, column)
            if blob is None:
                continue
            try:
                plaintext, index = crypto.decrypt_with(secret_keys, store.id, blob)
            except crypto.DecryptionError:
                rotation.undecryptable.append((store.id, column))
                continue
            if index == 0:
                rotation.current += 1
                continue
            setattr(store, column, crypto.encrypt(secret_keys, store.id, plaintext))
            rotation.reencrypted += 1
    return rotation


@click.group()
def keys() -> None:
    """CONNECTOR_SECRET_KEY rotation."""


@keys.command("rotate")
@pass_context
def keys_rotate(obj: Context) -> None:
    """Re-encrypt every stored credential under the current CONNECTOR_SECRET_KEY (the first of its list)."""
    with transaction(obj.sessions) as session:
        rotation = rotate(session, obj.settings.secret_keys)
    click.echo(f"{rotation.reencrypted} credentials re-encrypted under the current key; {rotation.current} were "
               "already")
    if rotation.undecryptable:
        where = ", ".join(f"store {store_id} {column}" for store_id, column in rotation.undecryptable)
        raise click.ClickException(f"no configured key decrypts {len(rotation.undecryptable)} credentials ({where}): "
                                   "keep the key that made them in CONNECTOR_SECRET_KEY, or install those stores again")
    if len(obj.settings.secret_keys) > 1:
        click.echo("every credential is under the current key: the older keys can now be removed", err=True)
