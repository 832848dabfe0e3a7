"""The API's error answer, `{"error": {"code", "message", "field"}}`, for its own errors and werkzeug's."""

from __future__ import annotations

from flask import jsonify, request
from pydantic import BaseModel
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from connector.web.api.blueprint import PREFIX, bp


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None, *,
                 errors: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.errors = status, code, message, field, errors

    def body(self) -> dict:
        """The error object: code, message, field, and (validation errors) every wrong field."""
        answer = {"code": self.code, "message": self.message, "field": self.field}
        if self.errors:
            answer["errors"] = self.errors
        return answer


class FieldError(BaseModel):
    field: str | None
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    #: a validation error: every field that is wrong (the first is also `field` and `message`)
    errors: list[FieldError] | None = None


class Error(BaseModel):
    error: ErrorBody


def bad_cursor() -> ApiError:
    return ApiError(422, "validation_error", "cursor is not one this API gave", "cursor")


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    answer = jsonify(error=exc.body())
    return answer, exc.status


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    return _api_error(ApiError(413, "too_large", "the request body is too large"))


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _no_route(exc: HTTPException):
    """Under /api/v1, an unknown path or method answers in the API's own error shape; elsewhere as before."""
    if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return exc
    code = "not_found" if exc.code == 404 else "method_not_allowed"
    answer = _api_error(ApiError(exc.code, code, exc.description or code))[0]
    if exc.code == 405:
        answer.headers["Allow"] = exc.get_response().headers.get("Allow", "")
    return answer, exc.code
