"""Logging as an operator reads it: JSON lines in production (or CONNECTOR_LOG_FORMAT=json), text in
development, the ids in hand on every line, no credential in any; the same under gunicorn and the worker."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from connector import logs
from connector.settings import load_settings
from standins.shopify import samples

from .conftest import SHOP, SHOPIFY_SECRET

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def json_logs(capsys):
    logs.configure(load_settings({"CONNECTOR_ENV": "development", "CONNECTOR_LOG_FORMAT": "json"},
                                 read_dotenv=False), force=True)
    yield lambda: [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    logging.getLogger("connector").handlers.clear()
    logs._configured = False


def test_a_json_line_has_time_level_logger_message_and_the_ids_in_hand(json_logs):
    with logs.context(store=3, event=41):
        logging.getLogger("connector.worker").warning("event %s set aside", 41)
    logging.getLogger("connector.worker").info("no ids here")
    first, second = json_logs()
    assert (first["level"], first["logger"], first["message"], first["store"], first["event"]) == (
        "WARNING", "connector.worker", "event 41 set aside", 3, 41)
    assert first["time"].startswith("20") and "request" not in first
    assert "store" not in second and second["level"] == "INFO"


@pytest.mark.parametrize("secret", ["shpat_0123456789abcdef", "shprt_abcdef0123", "whsec_MDEyMzQ1Njc4OWFiY2Rl",
                                    "Bearer api-token-for-the-tests-0123456789",
                                    "ck_0123456789abcdef0123456789abcdef01234567",
                                    "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"])
def test_a_credential_in_a_message_is_masked(json_logs, secret):
    logging.getLogger("connector.test").error("refused: %s", secret)
    [line] = json_logs()
    assert secret not in json.dumps(line) and "[redacted]" in line["message"]


def test_text_lines_in_development_carry_the_ids_at_the_end(capsys):
    logs.configure(load_settings({"CONNECTOR_ENV": "development"}, read_dotenv=False), force=True)
    try:
        with logs.context(conversion="cv_1"):
            logging.getLogger("connector.delivery").info("sent")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert line.endswith("INFO connector.delivery sent conversion=cv_1")
    finally:
        logging.getLogger("connector").handlers.clear()
        logs._configured = False


def test_production_logs_json_by_default_and_a_bad_format_is_refused():
    production = {"CONNECTOR_SECRET_KEY": "k" * 32}
    assert load_settings(production, read_dotenv=False).log_format == "json"
    assert load_settings({"CONNECTOR_ENV": "development"}, read_dotenv=False).log_format == "text"
    for name, value in (("CONNECTOR_LOG_FORMAT", "xml"), ("CONNECTOR_LOG_LEVEL", "LOUD")):
        with pytest.raises(Exception, match=name):
            load_settings({"CONNECTOR_ENV": "development", name: value}, read_dotenv=False)


def test_under_gunicorn_a_refused_webhook_is_one_json_line_with_its_request_id(tmp_path, settings, store):
    """The Procfile's web line, as the e2e tests run it, with JSON logs asked for."""
    from bench._common import Gunicorn, free_port, procfile_web_argv

    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONNECTOR_", "TRACKING_", "SHOPIFY_")) and k != "DATABASE_URL"}
    env.update(DATABASE_URL=settings.database_url, CONNECTOR_ENV="development", SHOPIFY_API_SECRET=SHOPIFY_SECRET,
               CONNECTOR_LOG_FORMAT="json", PYTHONUNBUFFERED="1")
    log = tmp_path / "gunicorn.log"
    server = Gunicorn(procfile_web_argv("connector:create_app()", port, env), env, ROOT, log, port).start()
    try:
        body = samples.encode(samples.order())
        headers = samples.headers(body, shop=SHOP, topic="orders/paid", secret="not-the-secret")
        answer = requests.post(f"http://127.0.0.1:{port}/webhooks/shopify", data=body,
                               headers={**headers, "X-Request-Id": "req-from-the-proxy"}, timeout=10)
        assert answer.status_code == 401 and answer.headers["X-Request-Id"] == "req-from-the-proxy"
    finally:
        server.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    refused = [line for line in lines if line.get("request") == "req-from-the-proxy"]
    assert refused and refused[0]["level"] == "WARNING" and refused[0]["logger"].startswith("connector")
    assert "not-the-secret" not in log.read_text()


def test_the_worker_command_logs_json_lines_too(settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTOR_", "TRACKING_", "SHOPIFY_"))}
    env.update(DATABASE_URL=settings.database_url, CONNECTOR_ENV="development", CONNECTOR_LOG_FORMAT="json")
    done = subprocess.run([sys.executable, "-m", "connector.cli", "worker", "--burst"], env=env, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [line["message"].split()[-1] for line in lines][-1] == "stopped" and lines[0]["level"] == "INFO"


def test_a_credential_in_a_traceback_is_masked_too(json_logs):
    try:
        raise RuntimeError("token shpat_0123456789abcdef refused")
    except RuntimeError:
        logging.getLogger("connector.test").exception("call failed")
    [line] = json_logs()
    assert "shpat_0123456789abcdef" not in json.dumps(line) and "[redacted]" in json.dumps(line)


def test_a_delivery_line_names_its_conversion_and_an_event_line_its_event(json_logs, client, delivering_settings,
                                                                         sessions, store, backend):
    from .helpers import conversions, drain, post_shopify

    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    drain(delivering_settings, sessions)
    [conversion] = conversions(sessions)
    lines = json_logs()
    [sent] = [line for line in lines if line["message"].startswith(f"conversion {conversion.id}: delivered")]
    assert sent["conversion"] == conversion.id and sent["logger"] == "connector.worker"
    [handled] = [line for line in lines if line["message"].startswith("event ") and " handled" in line["message"]]
    assert handled["event"] and handled["store"] == store.id
