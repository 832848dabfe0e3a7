"""Field types more than one resource's request models share: ids, patterns, strict models, whole numbers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_ID = 2_147_483_647  # store ids are 32-bit integers on every database
TRACKING_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
#: "batch" is no tracking id, in any case (ids match case-insensitively): /influencers/batch is the batch
#: endpoint (campaigns.RESERVED_TRACKING_IDS)
NOT_RESERVED = {"not": {"pattern": "^[Bb][Aa][Tt][Cc][Hh]$"}}
CAMPAIGN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
#: the `type` of an influencer's discount (influencers.DiscountIn); error fields leave it out
DISCOUNT_TYPES = ("percentage", "fixed_amount")


def _integral(value):
    """58.0 is the integer 58 to JSON Schema (and to some JSON encoders): take it as one; 58.5 stays refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def whole(low: int, high: int):
    """An integer as JSON Schema means it (58 or 58.0, never "58" or true) from low to high.

    The bounds come before the validator: after it, pydantic writes them into the document as "ge"/"le".
    """
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_integral)]


class Strict(BaseModel):
    # strict: JSON numbers are not times (pydantic would read 0 as 1970-01-01), strings not numbers
    model_config = ConfigDict(extra="forbid", strict=True)
