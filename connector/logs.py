"""Logging, set up once per process the same way under gunicorn, `connector worker` and every command.

One JSON object per line on stderr in production (python-json-logger: time, level, logger, message, and the
ids in hand: request, store, event, conversion), plain text in development; CONNECTOR_LOG_FORMAT chooses
otherwise. The ids come from context variables the request and the worker set (`context`), so a line names
what it concerns without every call passing it. A last filter masks anything shaped like a credential,
should one ever reach a message (the code logs none: this is the net under it).
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
import sys
from contextlib import contextmanager
from typing import Iterator

from connector.settings import Settings

IDS = ("request", "store", "event", "conversion")
_ids: dict[str, contextvars.ContextVar] = {name: contextvars.ContextVar(f"log_{name}", default=None) for name in IDS}
#: Shopify tokens and secrets, Standard Webhooks secrets, bearer credentials, WooCommerce keys, JWTs
CREDENTIAL = re.compile(r"(shp(?:at|rt|ss|ca|pa)_[0-9A-Za-z]+|whsec_[0-9A-Za-z+/=]+|(?i:bearer)\s+[^\s\"',]+"
                        r"|c[ks]_[0-9a-f]{20,}|eyJ[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]*)")
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s%(ids)s"
JSON = "%(asctime)s %(levelname)s %(name)s %(message)s"
_configured = False


@contextmanager
def context(**ids) -> Iterator[None]:
    """Lines logged inside name these ids (request=…, store=…, event=…, conversion=…)."""
    tokens = [(_ids[name], _ids[name].set(value)) for name, value in ids.items() if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextIds(logging.Filter):
    """Puts the ids in hand on every record (fields of the JSON line; `suffix`: ` store=3 event=9` at the end of
    a text line) and masks credentials."""

    def __init__(self, suffix: bool = False):
        super().__init__()
        self.suffix = suffix

    def filter(self, record: logging.LogRecord) -> bool:
        found = {name: var.get() for name, var in _ids.items() if var.get() is not None}
        if self.suffix:
            record.ids = "".join(f" {name}={value}" for name, value in found.items())
        else:
            for name, value in found.items():
                setattr(record, name, value)
        message = record.getMessage()
        masked = CREDENTIAL.sub("[redacted]", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (a test runner or a daemon may swap it)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass

    def format(self, record: logging.LogRecord) -> str:
        # The whole line, traceback and fields included: a credential in an exception's text is masked too.
        return CREDENTIAL.sub("[redacted]", super().format(record))


def configure(settings: Settings, *, force: bool = False) -> None:
    """Set up the process's logging once (a second call changes nothing unless `force`)."""
    global _configured
    if _configured and not force:
        return
    json_lines = settings.log_format == "json"
    formatter = ({"()": "pythonjsonlogger.json.JsonFormatter", "format": JSON,
                  "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                  "timestamp": False, "datefmt": "%Y-%m-%dT%H:%M:%S%z"}
                 if json_lines else {"format": TEXT})
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"ids": {"()": ContextIds, "suffix": not json_lines}},
        "formatters": {"line": formatter},
        "handlers": {"stderr": {"()": Stderr, "formatter": "line", "filters": ["ids"]}},
        # The connector's own loggers; gunicorn's keep their handlers. Lines still reach the root (tests'
        # capture) after this handler wrote them.
        "loggers": {"connector": {"level": settings.log_level, "handlers": ["stderr"]}},
    })
    _configured = True
