"""The /api/v1 blueprint, and the path converter that keeps /influencers/batch from naming an influencer."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.routing import BaseConverter

bp = Blueprint("api", __name__)
PREFIX = "/api/v1"


class TrackingIdConverter(BaseConverter):
    """A path segment other than "batch": /influencers/batch is the batch endpoint, never an influencer.

    Without this, /influencers/batch matched both rules: GET and DELETE looked for an influencer called
    "batch" and OPTIONS advertised methods the batch endpoint does not have.
    """

    regex = r"(?!batch(?![^/]))[^/]+"


@bp.record_once
def _register_converter(state):
    state.app.url_map.converters["tracking_id"] = TrackingIdConverter
