"""Many influencers registered in one transaction, each entry as one PUT would register it, in a few statements.

The rows a batch can touch are read at once: the influencers it names, and every influencer holding a code
it asks for. The entries are then applied to those rows in memory, in the batch's order, by the rules one
PUT follows (influencers.apply_spec) and the same code check (`_Holders` is the in-memory twin of
influencers._code_clash: every row that could clash is in memory, and only the batch changes them). Then
the rows are written set-based (bulk). The statements do not grow with the batch.

Someone else may write between the read and the write (another batch, a PUT, the worker adopting a code):
the database then refuses a duplicate tracking id or code, and the batch is applied again entry by entry,
each in its own savepoint, as it always was; an entry that lost the race gets its own error.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, make_dataclass
from datetime import datetime
from operator import attrgetter
from typing import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.campaigns import bulk
from connector.campaigns.influencers import (CODE_WORK, Conflict, InfluencerSpec, InvalidField, apply_spec,
                                             check_spec, new_influencer, queue_code_work, upsert_influencer)
from connector.core.attribution import match_key
from connector.models import Store


_Columns = make_dataclass("_Columns", [(name, object, None) for name in bulk.COLUMNS], eq=False, slots=True)
_every_column = attrgetter(*bulk.COLUMNS)


class Draft(_Columns):
    """An influencer row held in memory while a batch is applied: the model's columns as plain attributes
    (a slotted dataclass, made from a row of bulk.read_rows in the table's column order, or by name)."""

    __slots__ = ()

    @classmethod
    def of(cls, influencer) -> "Draft":
        """A copy of a row (a model or a draft) as it is now."""
        return cls(*_every_column(influencer))

    def values(self) -> dict:
        return dict(zip(bulk.COLUMNS, _every_column(self)))


@dataclass(frozen=True, slots=True)
class Registered:
    """What became of one entry: created, updated or unchanged (with the row as that entry left it), or error.

    The error is InvalidField, Conflict, or IntegrityError (another request wrote the same tracking id or code
    at the same moment).
    """

    outcome: str
    influencer: Draft | None = None
    error: Exception | None = None


class _Holders:
    """Whose each code is, as the batch goes: live in the store (promo_code_key), or asked for by an influencer
    not removed (requested_code), as influencers._code_clash asks the database."""

    def __init__(self):
        self.live: dict[str, set[str]] = defaultdict(set)
        self.asked: dict[str, set[str]] = defaultdict(set)

    def add(self, row: Draft) -> None:
        if row.promo_code_key is not None:
            self.live[row.promo_code_key].add(row.tracking_key)
        if row.requested_code is not None and row.removed_at is None:
            self.asked[row.requested_code.lower()].add(row.tracking_key)

    def discard(self, row: Draft) -> None:
        if row.promo_code_key is not None:
            self.live[row.promo_code_key].discard(row.tracking_key)
        if row.requested_code is not None:
            self.asked[row.requested_code.lower()].discard(row.tracking_key)

    def others(self, code_key: str, tracking_key: str) -> set[str]:
        """The tracking keys of everyone else holding the code."""
        return (self.live.get(code_key, set()) | self.asked.get(code_key, set())) - {tracking_key}


class _Plan:
    """The batch applied in memory: the rows as they end up, and which of them to insert or update."""

    def __init__(self, store: Store, loaded: Sequence, now: datetime):
        self.store_id, self.now = store.id, now
        self.rows = {row.tracking_key: Draft(*row) for row in loaded}
        #: each loaded row's code key as read: a row that gives its key up lets go of it before others take it
        self.keys_read = {key: row.promo_code_key for key, row in self.rows.items()}
        self.holders = _Holders()
        for row in self.rows.values():
            self.holders.add(row)
        self.created: set[str] = set()
        self.changed: set[str] = set()
        self.codes_set: set[str] = set()
        self.code_work = False

    def apply(self, spec: InfluencerSpec, code: str | None) -> Registered:
        key = match_key(spec.tracking_id)
        holders = self.holders.others(match_key(code), key) if code is not None else ()
        if holders:
            # Two holders only where a code was given by hand (the CLI) to one while another asked for it: name
            # the older, as the database's scan would.
            holder = min((self.rows[k] for k in holders), key=lambda r: (r.id is None, r.id or 0, r.tracking_key))
            return Registered("error", error=Conflict(
                "promo_code", f"code {code!r} already belongs to {holder.tracking_id} in this store"))
        row = self.rows.get(key)
        created = row is None
        if created:
            row = self.rows[key] = Draft(**new_influencer(self.store_id, spec.tracking_id, self.now))
            self.created.add(key)
        self.holders.discard(row)
        outcome, code_set = apply_spec(row, spec, code, self.now, created=created)
        self.holders.add(row)
        if outcome != "unchanged":
            self.changed.add(key)
        if code_set:
            self.codes_set.add(key)
            self.code_work = self.code_work or row.code_status in CODE_WORK
        return Registered(outcome, Draft.of(row))

    def write(self, session: Session) -> None:
        """Updates first, then inserts: a new row may take a code an existing row gave up in this batch."""
        updated = [self.rows[key] for key in sorted(self.changed - self.created)]
        bulk.release_codes(session, [row.id for row in updated
                                     if self.keys_read[row.tracking_key] not in (None, row.promo_code_key)])
        bulk.update_rows(session, [(row.values(), row.tracking_key in self.codes_set) for row in updated])
        bulk.insert_rows(session, [self.rows[key].values() for key in sorted(self.created)])


def register_batch(session: Session, store: Store, specs: Sequence[InfluencerSpec], now: datetime) -> list[Registered]:
    """Apply each spec in order, as upsert_influencer would one by one; one result per spec."""
    checked: list[str | None | InvalidField] = []
    for spec in specs:
        try:
            checked.append(check_spec(spec))
        except InvalidField as exc:
            checked.append(exc)
    valid = [(spec, code) for spec, code in zip(specs, checked) if not isinstance(code, InvalidField)]
    loaded = bulk.read_rows(session, store.id, {match_key(spec.tracking_id) for spec, _ in valid},
                            {match_key(code) for _, code in valid if code is not None}) if valid else []
    plan = _Plan(store, loaded, now)
    results = [Registered("error", error=code) if isinstance(code, InvalidField) else plan.apply(spec, code)
               for spec, code in zip(specs, checked)]
    if plan.changed:
        try:
            with session.begin_nested():
                plan.write(session)
        except IntegrityError:
            return _one_by_one(session, store, specs, now)
    if plan.code_work:
        queue_code_work(store, now)
    return results


def _one_by_one(session: Session, store: Store, specs: Sequence[InfluencerSpec], now: datetime) -> list[Registered]:
    """The batch as it was before it was set-based: each entry in its own savepoint (a concurrent writer won)."""
    results = []
    for spec in specs:
        try:
            with session.begin_nested():
                influencer, outcome = upsert_influencer(session, store, spec, now)
            results.append(Registered(outcome, Draft.of(influencer)))
        except (InvalidField, Conflict, IntegrityError) as exc:
            results.append(Registered("error", error=exc))
    return results
