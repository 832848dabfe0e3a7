"""The merchant app's blueprint: its JSON routes under /admin/api, its static files, and how it answers errors.

Every answer is JSON `{"error", "message", "field"}` on failure, and none is cached by a browser or a proxy:
each is one shop's data.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, send_from_directory
from werkzeug.exceptions import HTTPException

from connector.web.app.shell import ASSETS, STATIC

PREFIX = "/admin/api"
bp = Blueprint("merchant_app", __name__)


class AppError(Exception):
    """An answer other than 200 for the page, with what it should say."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, *,
                 headers: dict[str, str] | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers, self.extra = headers or {}, extra or {}


@bp.errorhandler(AppError)
def _app_error(exc: AppError):
    answer = jsonify(error=exc.code, message=exc.message, field=exc.field, **exc.extra)
    return answer, exc.status, exc.headers


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    # werkzeug's own refusals (a body over the limit, a bad method) in the page's error shape, not HTML
    return _app_error(AppError(exc.code or 500, "bad_request" if exc.code == 400 else (exc.name or "error").lower()
                               .replace(" ", "_"), exc.description or ""))


@bp.after_request
def _private(response):
    if response.mimetype == "application/json":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/admin/static/<name>")
def static_file(name: str):
    """The page's script and style sheet; the shell names them with their hash, so they can be kept a year."""
    if name not in ASSETS:
        abort(404)
    mimetype = "text/javascript" if name.endswith(".js") else "text/css"
    return send_from_directory(STATIC, name, mimetype=mimetype, max_age=31536000)
