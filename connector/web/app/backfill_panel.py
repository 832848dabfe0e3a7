"""GET/POST /admin/api/backfill: the "Past orders" panel. The merchant's store's orders of the last N days (30 by
default) read and reported as a dry run; then, with the button that restates the dry run's figures, credited.

The store is the session token's; nothing in a request names another (a run id of another store is refused as
unknown). No request waits for the store: a POST only records the run (a few statements) and answers 202; the
worker's maintenance loop reads the store and credits in slices (connector/backfill/engine.py), and the page asks
GET again every two seconds for the progress. The button's POST names the dry run it restates and the number of
orders it said: a commit credits exactly those orders, and is refused (409) when that dry run is no longer the
store's latest or is over an hour old, so the merchant never credits figures they did not see.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector.backfill import figures, runs
from connector.db import transaction
from connector.web import services
from connector.web.app.answers import format_time
from connector.web.app.auth import merchant_store
from connector.web.app.blueprint import PREFIX, AppError, bp

DEFAULT_DAYS = 30
#: what the page offers; the command line takes up to runs.MAX_DAYS
MAX_DAYS = 365


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    days: int = Field(default=DEFAULT_DAYS, ge=1, le=MAX_DAYS)


class CommitIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    dry_run: int = Field(ge=1)
    #: how many orders the button said it would credit
    orders: int = Field(ge=0)


def _body(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(request.get_json(silent=True) or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or None
        message = f"days: a whole number from 1 to {MAX_DAYS}" if field == "days" else first.get("msg", "invalid")
        raise AppError(422, "validation_error", message, field) from None


def run_document(view: runs.RunView | None) -> dict | None:
    if view is None:
        return None
    counted = view.figures or figures.empty()
    return {
        "id": view.id, "mode": view.mode, "status": view.status, "days": view.days, "since": format_time(view.since),
        "requested_at": format_time(view.requested_at), "finished_at": format_time(view.finished_at),
        "orders_read": view.orders_read, "orders_expected": view.orders_expected, "orders_done": view.orders_done,
        "note": view.read_note, "error": view.error, "calls": view.calls, "of_dry_run": view.of_run_id,
        "figures": counted, "reasons": {key: figures.reason_text(key) for key in counted["not_credited"]},
    }


def _answer(session, store) -> dict:
    now = datetime.now(timezone.utc)
    latest = runs.latest(session, store.id)
    dry = runs.reusable_dry_run(session, store.id, latest.days, now) if latest is not None else None
    return {"run": run_document(runs.view(latest) if latest else None),
            "committable": dry is not None and bool((dry.figures or {}).get("credited")),
            "default_days": DEFAULT_DAYS, "max_days": MAX_DAYS, "platform": store.platform}


@bp.get(f"{PREFIX}/backfill")
def backfill_state():
    with services().sessions() as session:
        return jsonify(_answer(session, merchant_store(session)))


@bp.post(f"{PREFIX}/backfill")
def backfill_dry_run():
    """Ask the worker for a dry run of the last `days` days."""
    with transaction(services().sessions) as session:
        store = merchant_store(session)  # who asks, before anything of what they ask is read
        wanted = _body(DryRunIn)
        _start(session, store, days=wanted.days, mode=runs.DRY_RUN)
        return jsonify(_answer(session, store)), 202


@bp.post(f"{PREFIX}/backfill/commit")
def backfill_commit():
    """Credit the orders of the dry run the button restated (by its id and the orders it said)."""
    with transaction(services().sessions) as session:
        store = merchant_store(session)
        wanted = _body(CommitIn)
        dry = runs.latest(session, store.id, runs.DRY_RUN)
        if dry is None or dry.id != wanted.dry_run:
            raise AppError(409, "stale", "These figures are no longer the latest: run the dry run again.")
        if (dry.figures or {}).get("credited") != wanted.orders:
            raise AppError(409, "stale", "The dry run's figures are not the ones shown: reload the page.")
        _start(session, store, days=dry.days, mode=runs.COMMIT, of_run_id=dry.id)
        return jsonify(_answer(session, store)), 202


def _start(session, store, **how) -> None:
    try:
        runs.start(session, store.id, runner=runs.WORKER, now=datetime.now(timezone.utc), **how)
    except runs.BackfillBusy as exc:
        raise AppError(409, "busy", str(exc)) from None
    except runs.BackfillNotPossible as exc:
        raise AppError(409, "not_possible", str(exc)) from None
    session.flush()


def _finished(session, store_id: int, mode: str):
    from sqlalchemy import select

    from connector.models import BackfillRun

    return session.scalars(select(BackfillRun).where(BackfillRun.store_id == store_id, BackfillRun.mode == mode,
                                                     BackfillRun.status == runs.DONE)
                           .order_by(BackfillRun.id.desc()).limit(1)).first()


def onboarding_steps(session, store) -> list[dict]:
    """The checklist's offer, once setup is done (right after install): credit the orders placed before it."""
    if store.setup_at is None:
        return []
    step = {"key": "past_orders", "title": "Credit past orders", "action": None, "action_url": None,
            "checked_at": None}
    commit, dry = _finished(session, store.id, runs.COMMIT), _finished(session, store.id, runs.DRY_RUN)
    active = runs.active_run(session, store.id)
    if commit is not None:
        counted = commit.figures or figures.empty()
        return [{**step, "state": "done", "checked_at": format_time(commit.finished_at),
                 "detail": f"{figures.orders(counted['credited'])} placed in the {commit.days} days before were "
                           f"credited ({figures.amounts_text(counted['amount'])})."}]
    if active is not None:
        return [{**step, "state": "working", "detail": "Reading the store's past orders: see Past orders below."}]
    if dry is not None:
        counted = dry.figures or figures.empty()
        return [{**step, "state": "done", "checked_at": format_time(dry.finished_at),
                 "detail": f"You looked at the last {dry.days} days: {figures.orders(counted['credited'])} would be "
                           "credited. Past orders, below, credits them when you choose to."}]
    return [{**step, "state": "todo",
             "detail": "Orders placed before the connector was installed have not been credited to anyone.",
             "action": f"See what the last {DEFAULT_DAYS} days would credit, in Past orders below: nothing is sent "
                       "until you choose to credit them."}]
