"""`connector privacy`: the privacy requests the stores sent, and the data exports the operator hands over."""

from __future__ import annotations

import json
import os

import click
from sqlalchemy import select

from connector.campaigns import directory
from connector.cli.shared import Context, fail_on_connector_errors, lines_wanted, pass_context
from connector.models import PrivacyRequest, Store


@click.group()
def privacy() -> None:
    """Privacy requests (data requests, customer and store erasure) and their exports."""


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


@privacy.command("requests")
@click.option("--store", "store_key", help="Only this store (its shop domain or URL, as it was added).")
@click.option("--json", "as_json", is_flag=True)
@pass_context
@fail_on_connector_errors
def privacy_requests(obj: Context, store_key: str | None, as_json: bool) -> None:
    """Privacy requests, oldest first, with what was found or erased."""
    with obj.sessions() as session:
        query = select(PrivacyRequest, Store.domain).join(Store, Store.id == PrivacyRequest.store_id)
        if store_key:
            query = query.where(PrivacyRequest.store_id == directory.find_store(session, store_key).id)
        rows = session.execute(query.order_by(PrivacyRequest.received_at, PrivacyRequest.id)).all()
    listing = [
        {
            "id": r.id, "store": domain, "kind": r.kind, "request_id": r.request_id,
            "received_at": _iso(r.received_at), "completed_at": _iso(r.completed_at), "summary": r.summary,
            "export": r.export is not None,
        }
        for r, domain in rows
    ]
    if not lines_wanted(listing, as_json, "no privacy requests"):
        return
    for r in listing:
        summary = ", ".join(f"{count} {name}" for name, count in (r["summary"] or {}).items()) or "-"
        export = "export ready" if r["export"] else ("export erased" if r["kind"] == "data_request" else "")
        click.echo(f"{r['id']:>5}  {r['store']:<40} {r['kind']:<15} received {r['received_at']}  "
                   f"completed {r['completed_at'] or '-'}  {summary}  {export}".rstrip())


def _write_private(path: str, text: str) -> None:
    """The export holds personal data: the file is readable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file that was there already keeps its mode otherwise
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


@privacy.command("export")
@click.argument("request_id", type=int)
@click.option("--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the export to this file (readable by its owner only) instead of printing it.")
@pass_context
@fail_on_connector_errors
def privacy_export(obj: Context, request_id: int, output: str | None) -> None:
    """The data export of data request REQUEST_ID (an id from `privacy requests`), as JSON."""
    with obj.sessions() as session:
        request = session.get(PrivacyRequest, request_id)
    if request is None:
        raise click.ClickException(f"no privacy request {request_id}")
    if request.kind != "data_request":
        raise click.ClickException(f"privacy request {request_id} is a {request.kind}: only data requests have an export")
    if request.export is None:
        raise click.ClickException(
            f"privacy request {request_id} has no export any more: the customer's data was erased since")
    text = json.dumps(request.export, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    _write_private(output, text)
    click.echo(f"export of privacy request {request_id} written to {output}", err=True)
