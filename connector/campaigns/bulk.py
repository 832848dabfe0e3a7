"""The influencer batch's reads and writes as set-based statements: one per step, however many rows.

PostgreSQL gets each column as one array parameter (`IN (SELECT unnest(:keys))`, `INSERT ... SELECT FROM
unnest(...)`, `UPDATE ... FROM unnest(...)`). A statement with one placeholder per value would be just as
set-based, but psycopg rewrites every placeholder in Python (about 7 us each: the 25,000 of 1,000 rows
took longer than the insert itself) and PostgreSQL plans a VALUES list of that size anew each time; an
array is one placeholder whatever its length. SQLite is in the process: plain `IN (...)` and executemany,
one C loop and no round trips.
"""

from __future__ import annotations

from typing import Collection, Sequence

from sqlalchemy import Boolean, String, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from connector.models import Influencer

TABLE = Influencer.__table__
COLUMNS = tuple(column.key for column in TABLE.columns)
#: what an insert writes (the database numbers the rows)
INSERTED = tuple(name for name in COLUMNS if name != "id")
#: what a PUT may change in a row it did not create, whether or not it sets the code (influencers.apply_spec)
PROFILE = ("campaign_id", "email_sha256", "customer_id", "active", "removed_at", "updated_at")
#: what setting the code changes (influencers._set_code); written only for the rows whose code was set, so
#: what the worker recorded meanwhile about another row's code stays (its remote ids are never written here)
CODE = ("requested_code", "promo_code", "promo_code_key", "discount_kind", "discount_value", "discount_starts_at",
        "discount_ends_at", "usage_limit", "once_per_customer", "code_status", "code_error", "code_attempts")


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _array(name: str, type_, values: list):
    return bindparam(name, values, type_=ARRAY(type_))


def _among(session: Session, expression, name: str, values: Collection[str]):
    """`expression IN values`. On PostgreSQL the values are one array, as `IN (SELECT unnest(:array))`: a hashed
    subplan, one probe per row, in every plan. `= ANY(:array)` is hashed only in a plan made for the values
    at hand; in the generic plan PostgreSQL switches to after a few runs of a prepared statement it compares
    each row with every value (8.8 s instead of 0.1 s for 1,000 codes in a store of 100,000 influencers)."""
    if _postgres(session):
        return expression.in_(select(func.unnest(_array(name, String(), sorted(values)))))
    return expression.in_(sorted(values))


def read_rows(session: Session, store_id: int, tracking_keys: Collection[str], code_keys: Collection[str]):
    """The store's influencers with one of these tracking keys, or holding one of these codes (live, or asked for
    and not removed): every row a batch of them can change or clash with. Rows in the table's column order."""
    c = TABLE.c
    held = or_(_among(session, c.promo_code_key, "code_keys", code_keys),
               and_(_among(session, func.lower(c.requested_code), "code_keys", code_keys), c.removed_at.is_(None)))
    query = select(TABLE).where(c.store_id == store_id,
                                or_(_among(session, c.tracking_key, "tracking_keys", tracking_keys), held))
    return session.execute(query).all()


def _rows_of(prefix: str, types: dict, columns: dict[str, list]) -> dict:
    """PostgreSQL: each column of the rows as an expression, a column of unnest(...) when its values differ
    from row to row, and one bound value when every row has the same (the store, the times, most of the terms
    are sent once, not as an array of copies: psycopg writes each element of a text array in Python)."""
    varying = [name for name, values in columns.items() if any(value != values[0] for value in values)]
    expressions = {name: bindparam(f"{prefix}_{name}", values[0], type_=types[name])
                   for name, values in columns.items() if name not in varying}
    if varying:
        source = func.unnest(*[_array(f"{prefix}_{name}", types[name], columns[name]) for name in varying]
                             ).table_valued(*varying).render_derived()
        expressions.update({name: source.c[name] for name in varying})
    return expressions


def release_codes(session: Session, ids: Sequence[int]) -> None:
    """Clear the code keys rows are giving up, before any row takes one: the unique key is checked row by row."""
    if ids:
        session.execute(update(TABLE).where(TABLE.c.id.in_(ids)).values(promo_code_key=None))


def insert_rows(session: Session, rows: Sequence[dict]) -> None:
    if not rows:
        return
    if _postgres(session):
        types = {name: TABLE.c[name].type for name in INSERTED}
        values = _rows_of("new", types, {name: [row[name] for row in rows] for name in INSERTED})
        session.execute(insert(TABLE).from_select(INSERTED, select(*[values[name] for name in INSERTED])))
    else:
        # A column no row has a value for is left out (NULL), unless it has a default: fewer values to process
        # for each row, and most of a new influencer's columns are empty.
        c = TABLE.c
        names = [name for name in INSERTED if c[name].default is not None or c[name].server_default is not None
                 or any(row[name] is not None for row in rows)]
        session.connection().execute(insert(TABLE), [{name: row[name] for name in names} for row in rows])


def update_rows(session: Session, rows: Sequence[tuple[dict, bool]]) -> None:
    """Write each (row, code_set): its PROFILE columns, and its CODE columns when its code was set."""
    if not rows:
        return
    names = ("id", "code_set", *PROFILE, *CODE)
    types = {name: Boolean() if name == "code_set" else TABLE.c[name].type for name in names}
    columns = {name: [code_set if name == "code_set" else row[name] for row, code_set in rows] for name in names}
    if _postgres(session):
        value = _rows_of("set", types, columns)
    else:
        value = {name: bindparam(f"set_{name}", type_=types[name]) for name in names}
    changes = {name: value[name] for name in PROFILE}
    changes.update({name: case((value["code_set"], value[name]), else_=TABLE.c[name]) for name in CODE})
    statement = update(TABLE).where(TABLE.c.id == value["id"]).values(changes)
    if _postgres(session):
        session.execute(statement)
    else:
        session.connection().execute(statement, [{f"set_{name}": v for name, v in zip(names, values)}
                                                 for values in zip(*columns.values())])
