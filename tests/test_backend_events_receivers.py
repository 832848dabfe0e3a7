"""The README's receivers, run as they are written (docs/receivers/), against what the connector really sends.

docs/receivers/receiver.py (Flask and the official `standardwebhooks` package) runs as its own process; so does
docs/receivers/receiver.mjs, with Debian's Node and the official `standardwebhooks` package from npm installed into a
temporary folder (skipped, saying why, without node and npm or when the registry cannot be reached). The connector
delivers a conversion and the other events to each; each receiver verifies every one, refuses a forged delivery and
takes a retry of one it has handled as a duplicate.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bench._common import free_port
from connector import backend_events
from connector.core import backend_events as told
from connector.db import transaction
from connector.delivery.forwarder import Sender
from connector.models import Conversion, Store
from standins.shopify import samples

from .conftest import BACKEND_SECRET, SHOP
from .helpers import drain, post_shopify
from .test_backend_events_schema import check_sent

RECEIVERS = Path(__file__).resolve().parents[1] / "docs" / "receivers"
FORGED_SECRET = "whsec_" + "Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0LTEyMzQ="
NPM_TIMEOUT = 60


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the receiver exited at once: {process.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the receiver did not listen in time")


def _run_receiver(argv: list[str], cwd: Path, exercise) -> list[dict]:
    """Start the receiver on a free port, `exercise(url)` it, stop it; the lines it wrote of what it verified."""
    port = free_port()
    env = {**os.environ, "TRACKING_BACKEND_SECRET": BACKEND_SECRET, "PORT": str(port)}
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, process)
        exercise(f"http://127.0.0.1:{port}/connector")
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    lines = [line for line in (out + err).splitlines() if line.startswith('{"verified"')]
    assert lines, f"the receiver printed nothing: {out}\n{err}"
    return [json.loads(line) for line in lines]


def _exerciser(settings, client, sessions, store):
    """What the connector sends to a receiver at `url`: a purchase and one event of each kind of data."""

    def exercise(url: str) -> None:
        post_shopify(client, "orders/paid", samples.order(order_id=6601, codes=("ALICE15",)))
        with transaction(sessions) as session:
            row = session.get(Store, store.id)
            every = frozenset(told.TYPES)
            backend_events.queue(session, row, told.STORE_INSTALLED, every)
            backend_events.queue(session, row, told.CUSTOMER_REDACTED, every, customer_id="990001",
                                 email_sha256="a" * 64)
            backend_events.queue(session, row, told.CODE_FAILED, every, tracking_id="mallory", campaign_id=None,
                                 code="MERCHANT10", action="create", reason="the code exists and is not ours")
        drain(settings.with_overrides(tracking_backend_url=url, tracking_backend_secret=BACKEND_SECRET), sessions)
        with sessions() as session:
            rows = session.scalars(select(Conversion)).all()
        assert {c.status for c in rows} == {"delivered"}, [(c.type, c.last_error) for c in rows]
        check_sent(json.loads(c.body) for c in rows)
        first = min(rows, key=lambda c: c.id)
        # A retry of what was handled is answered 2xx (or it would come again) and handled once; a forgery, 401.
        assert Sender(url, BACKEND_SECRET).send(first.id, first.body).status_code == 200
        assert Sender(url, FORGED_SECRET).send(first.id, first.body).status_code == 401
        exercise.sent = {c.id: c.type for c in rows}

    return exercise


def _check(printed: list[dict], sent: dict[str, str]) -> None:
    assert {line["id"]: line["verified"] for line in printed} == sent  # each verified, once
    assert len(printed) == len(sent) == 4 and {line["store"] for line in printed} == {SHOP}


@pytest.mark.only_database("sqlite")
def test_the_python_receiver_verifies_what_the_connector_sends(settings, client, sessions, store):
    exercise = _exerciser(settings, client, sessions, store)
    printed = _run_receiver([sys.executable, str(RECEIVERS / "receiver.py")], RECEIVERS, exercise)
    _check(printed, exercise.sent)


@pytest.fixture(scope="session")
def node_receiver(tmp_path_factory) -> Path:
    """receiver.mjs beside node_modules/standardwebhooks from npm (ES modules resolve packages from the file's
    folder, so the very file is copied there)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed (Debian: apt-get install nodejs npm)")
    folder = tmp_path_factory.mktemp("receiver-js")
    try:
        installed = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "standardwebhooks@1"],
                                   cwd=folder, capture_output=True, text=True, timeout=NPM_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm could not install standardwebhooks within {NPM_TIMEOUT} s (no registry?)")
    if installed.returncode != 0:
        pytest.skip(f"npm could not install standardwebhooks (no registry?): {installed.stderr.strip()[-300:]}")
    shutil.copy(RECEIVERS / "receiver.mjs", folder / "receiver.mjs")
    return folder


@pytest.mark.only_database("sqlite")
def test_the_javascript_receiver_verifies_what_the_connector_sends(settings, client, sessions, store, node_receiver):
    exercise = _exerciser(settings, client, sessions, store)
    printed = _run_receiver([shutil.which("node"), "receiver.mjs"], node_receiver, exercise)
    _check(printed, exercise.sent)
