"""How a request is logged: `connector serve`'s line is the one gunicorn's access log writes in production,
nothing more; and every line logged while a request is handled names its id (X-Request-Id, made when absent)."""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, request
from werkzeug.serving import WSGIRequestHandler

from connector import logs

#: a request id a proxy set is taken when it looks like one; anything else is replaced
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def name_requests(app: Flask) -> None:
    """Each request gets an id (the proxy's X-Request-Id, or a new one), in its log lines and its answer."""

    @app.before_request
    def _start():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        g.request_log = logs.context(request=g.request_id)
        g.request_log.__enter__()

    @app.after_request
    def _answer(response):
        if g.get("request_id"):
            response.headers["X-Request-Id"] = g.request_id
        return response

    @app.teardown_request
    def _end(_exc):
        scope = g.pop("request_log", None)
        if scope is not None:
            scope.__exit__(None, None, None)


class PathOnlyLog(WSGIRequestHandler):
    """Request lines as method, path and status: no query (it may carry secrets), no client address."""

    def log_request(self, code="-", size="-") -> None:
        path = getattr(self, "path", "").split("?", 1)[0]
        self.log("info", '"%s %s" %s %s', getattr(self, "command", "-"), path, code, size)

    def log(self, type: str, message: str, *args) -> None:  # noqa: A002 - werkzeug's own signature
        getattr(logging.getLogger("werkzeug"), type, logging.getLogger("werkzeug").info)(
            message % args if args else message)
