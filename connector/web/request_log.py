"""How `connector serve` logs a request: the line gunicorn's access log writes in production, nothing more."""

from __future__ import annotations

import logging

from werkzeug.serving import WSGIRequestHandler


class PathOnlyLog(WSGIRequestHandler):
    """Request lines as method, path and status: no query (it may carry secrets), no client address."""

    def log_request(self, code="-", size="-") -> None:
        path = getattr(self, "path", "").split("?", 1)[0]
        self.log("info", '"%s %s" %s %s', getattr(self, "command", "-"), path, code, size)

    def log(self, type: str, message: str, *args) -> None:  # noqa: A002 - werkzeug's own signature
        getattr(logging.getLogger("werkzeug"), type, logging.getLogger("werkzeug").info)(
            message % args if args else message)
