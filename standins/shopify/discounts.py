"""The Shopify stand-in's code discounts and web pixel (standins/shopify/store.py): data and answers, no HTTP.

What it keeps to, from PLATFORMS.md A6 and A8 and the Admin schema's descriptions:
- a code is unique in the shop across all discounts, compared case-insensitively (as checkout does):
  a second one is refused as TAKEN, in discountCodeBasicCreate's userErrors or in the per-code
  `errors` of a bulk creation;
- discountRedeemCodeBulkAdd takes at most 250 codes (more is a GraphQL error, as for any input list
  over 250) and works in the background: a bulk creation is `done` only after it has been read
  `polls_before_done` times (1: the first poll finds it running), and its codes are made (or refused)
  when it finishes, not when it is asked for;
- discountCodeRedeemCodeBulkDelete deletes at once and answers a job; ids no longer there are ignored;
- codeDiscountNodeByCode finds a code's discount; its `codes(query: <the code>)` is answered with the
  code itself, as Shopify's search of the discount's codes for it would be (the stand-in does not
  evaluate nested arguments);
- one web pixel per app per shop; its settings are a JSON string validated against the fields the
  extension declares (extensions/connector-pixel/shopify.extension.toml when present).
"""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

MAX_INPUT = 250  # https://shopify.dev/api/usage/limits: every input list
MAX_CODE_LENGTH = 255
PIXEL_EXTENSION = Path(__file__).resolve().parents[2] / "extensions" / "connector-pixel" / "shopify.extension.toml"
UNIQUE = "Code must be unique. Please try a different code."


class FieldError(ValueError):
    """A GraphQL error on one root field (its data is null), with Shopify's `extensions.code` when it has one."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


def _input_cap(values: Any) -> list:
    values = list(values or [])
    if len(values) > MAX_INPUT:
        raise FieldError(f"The input array size of {len(values)} is greater than the maximum allowed of {MAX_INPUT}.",
                         "MAX_INPUT_SIZE_EXCEEDED")
    return values


def _discount_error(field: list[str], code: str, message: str) -> dict:
    return {"field": field, "code": code, "message": message, "extraInfo": None}


def declared_pixel_fields(path: Path = PIXEL_EXTENSION) -> dict[str, bool] | None:
    """The extension's settings fields → whether each must be non-empty; None when there is no extension file."""
    try:
        fields = tomllib.loads(path.read_text())["settings"]["fields"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return None
    return {name: any(v.get("name") == "min" for v in spec.get("validations") or []) for name, spec in fields.items()}


class DiscountData:
    """One shop's code discounts, their redeem codes, bulk creations and the app's web pixel."""

    ROOT_FIELDS = frozenset({
        "discountCodeBasicCreate", "discountRedeemCodeBulkAdd", "discountRedeemCodeBulkCreation", "nodes",
        "codeDiscountNodeByCode", "discountCodeRedeemCodeBulkDelete", "webPixel", "webPixelCreate", "webPixelUpdate",
    })
    #: the scope each root field needs (a write scope grants its read scope)
    SCOPES = {
        "discountCodeBasicCreate": "write_discounts", "discountRedeemCodeBulkAdd": "write_discounts",
        "discountCodeRedeemCodeBulkDelete": "write_discounts", "discountRedeemCodeBulkCreation": "read_discounts",
        "codeDiscountNodeByCode": "read_discounts", "webPixel": "read_pixels", "webPixelCreate": "write_pixels",
        "webPixelUpdate": "write_pixels",
    }

    def __init__(self, pixel_fields: dict[str, bool] | None = None):
        self.discounts: dict[str, dict] = {}  # DiscountCodeNode gid → discount (input fields, codes, owner)
        self.codes: dict[str, dict] = {}  # lower-cased code → {id, code, discount_id}
        self.creations: dict[str, dict] = {}
        self.polls_before_done = 1
        self.pixel: dict | None = None
        self.pixel_fields = pixel_fields

    def resolve(self, name: str, args: dict, *, now: str, new_id: Callable[[], int]) -> Any:
        if name == "discountCodeBasicCreate":
            return self._create(args.get("basicCodeDiscount") or {}, now, new_id)
        if name == "discountRedeemCodeBulkAdd":
            return self._bulk_add(args, now, new_id)
        if name == "discountRedeemCodeBulkCreation":
            return self._read_creation(args.get("id"), new_id)
        if name == "nodes":
            return [self._read_creation(i, new_id) if i in self.creations else None
                    for i in _input_cap(args.get("ids"))]
        if name == "codeDiscountNodeByCode":
            found = self.codes.get(str(args.get("code") or "").lower())
            return self._node(self.discounts[found["discount_id"]], [found]) if found else None
        if name == "discountCodeRedeemCodeBulkDelete":
            return self._bulk_delete(args, new_id)
        if name == "webPixel":
            return self._read_pixel(args.get("id"))
        if name == "webPixelCreate":
            return self._write_pixel(None, args.get("webPixel") or {}, new_id)
        if name == "webPixelUpdate":
            return self._write_pixel(args.get("id"), args.get("webPixel") or {}, new_id)
        raise ValueError(f"the stand-in does not answer {name}")

    # --- discounts and codes ---------------------------------------------------------------------

    def _node(self, discount: dict, codes: Iterable[dict]) -> dict:
        """A DiscountCodeNode as the connector's documents read it."""
        return {"id": discount["id"], "codeDiscount": {
            "__typename": "DiscountCodeBasic", "title": discount["title"], "startsAt": discount["startsAt"],
            "endsAt": discount["endsAt"], "usageLimit": discount["usageLimit"],
            "appliesOncePerCustomer": discount["appliesOncePerCustomer"],
            "codes": {"nodes": [dict(c) for c in codes], "pageInfo": {"hasNextPage": False, "endCursor": None}},
        }}

    def _code_problem(self, code: Any) -> tuple[str, str] | None:
        """(error code, message) when Shopify would refuse the code itself."""
        if not isinstance(code, str) or not code.strip():
            return "BLANK", "Code can't be blank"
        if len(code) > MAX_CODE_LENGTH:
            return "TOO_LONG", f"Code is too long (maximum is {MAX_CODE_LENGTH} characters)"
        if any(c in code for c in "\r\n"):
            return "INVALID", "Code cannot contain newline characters."
        if code.lower() in self.codes:
            return "TAKEN", UNIQUE
        return None

    def _add_code(self, discount: dict, code: str, new_id: Callable[[], int]) -> dict:
        made = {"id": f"gid://shopify/DiscountRedeemCode/{new_id()}", "code": code, "discount_id": discount["id"]}
        self.codes[code.lower()] = made
        discount["codes"].append(made)
        return made

    def _terms_problem(self, wanted: dict) -> dict | None:
        value = ((wanted.get("customerGets") or {}).get("value") or {})
        if not wanted.get("title"):
            return _discount_error(["basicCodeDiscount", "title"], "BLANK", "Title can't be blank")
        if not wanted.get("startsAt"):
            return _discount_error(["basicCodeDiscount", "startsAt"], "BLANK", "Starts at can't be blank")
        if wanted.get("endsAt") and wanted["endsAt"] <= wanted["startsAt"]:
            return _discount_error(["basicCodeDiscount", "endsAt"], "END_DATE_BEFORE_START_DATE",
                                   "Ends at needs to be after starts_at")
        if ("percentage" in value) == ("discountAmount" in value):
            return _discount_error(["basicCodeDiscount", "customerGets", "value"], "INVALID",
                                   "Value must be a percentage or an amount")
        if "percentage" in value and not 0 < float(value["percentage"]) <= 1:
            return _discount_error(["basicCodeDiscount", "customerGets", "value", "percentage"],
                                   "VALUE_OUTSIDE_RANGE", "Value must be between 0.0 and 1.0")
        if not (wanted.get("customerGets") or {}).get("items"):
            return _discount_error(["basicCodeDiscount", "customerGets", "items"], "BLANK", "Items can't be blank")
        return None

    def _create(self, wanted: dict, now: str, new_id: Callable[[], int]) -> dict:
        problem = self._terms_problem(wanted)
        refused = self._code_problem(wanted.get("code"))
        if refused:
            problem = _discount_error(["basicCodeDiscount", "code"], refused[0], refused[1])
        if problem:
            return {"codeDiscountNode": None, "userErrors": [problem]}
        discount = {"id": f"gid://shopify/DiscountCodeNode/{new_id()}", "createdAt": now, "codes": [],
                    "input": wanted, **{k: wanted.get(k) for k in ("title", "startsAt", "endsAt", "usageLimit")},
                    "appliesOncePerCustomer": bool(wanted.get("appliesOncePerCustomer"))}
        self.discounts[discount["id"]] = discount
        first = self._add_code(discount, wanted["code"], new_id)
        return {"codeDiscountNode": self._node(discount, [first]), "userErrors": []}

    def _bulk_add(self, args: dict, now: str, new_id: Callable[[], int]) -> dict:
        codes = _input_cap(args.get("codes"))
        discount = self.discounts.get(args.get("discountId"))
        if discount is None:
            return {"bulkCreation": None, "userErrors": [
                _discount_error(["discountId"], "INVALID", "Code discount does not exist.")]}
        if not codes:
            return {"bulkCreation": None, "userErrors": [_discount_error(["codes"], "BLANK", "Codes can't be blank")]}
        creation = {"id": f"gid://shopify/DiscountRedeemCodeBulkCreation/{new_id()}", "createdAt": now,
                    "discount_id": discount["id"], "wanted": [c.get("code") for c in codes], "reads": 0,
                    "done": False, "codesCount": len(codes), "importedCount": 0, "failedCount": 0, "results": []}
        self.creations[creation["id"]] = creation
        return {"bulkCreation": self._creation(creation), "userErrors": []}

    def _read_creation(self, creation_id: Any, new_id: Callable[[], int]) -> dict | None:
        creation = self.creations.get(creation_id)
        if creation is None:
            return None
        creation["reads"] += 1
        if not creation["done"] and creation["reads"] > self.polls_before_done:
            self._finish(creation, new_id)
        return self._creation(creation)

    def _finish(self, creation: dict, new_id: Callable[[], int]) -> None:
        """Make the codes now, in order: one taken meanwhile (or twice in the list) is refused."""
        discount = self.discounts.get(creation["discount_id"])
        for code in creation["wanted"]:
            refused = self._code_problem(code) if discount else ("INVALID", "Code discount does not exist.")
            if refused:
                creation["results"].append({"code": code, "discountRedeemCode": None,
                                            "errors": [_discount_error(["code"], refused[0], refused[1])]})
                creation["failedCount"] += 1
            else:
                made = self._add_code(discount, code, new_id)
                creation["results"].append({"code": code, "errors": [],
                                            "discountRedeemCode": {"id": made["id"], "code": code}})
                creation["importedCount"] += 1
        creation["done"] = True

    def _creation(self, creation: dict) -> dict:
        results = creation["results"]
        return {"__typename": "DiscountRedeemCodeBulkCreation", "id": creation["id"], "done": creation["done"],
                "createdAt": creation["createdAt"], "codesCount": creation["codesCount"],
                "importedCount": creation["importedCount"], "failedCount": creation["failedCount"],
                "codes": {"nodes": results[:MAX_INPUT], "pageInfo": {"hasNextPage": False, "endCursor": None}}}

    def _bulk_delete(self, args: dict, new_id: Callable[[], int]) -> dict:
        ids = set(_input_cap(args.get("ids")))
        discount = self.discounts.get(args.get("discountId"))
        if discount is None:
            return {"job": None, "userErrors": [_discount_error(["discountId"], "INVALID",
                                                                "Code discount does not exist.")]}
        # Shopify deletes in a background job; the stand-in deletes at once and answers the job unfinished.
        for code in [c for c in discount["codes"] if c["id"] in ids]:
            discount["codes"].remove(code)
            self.codes.pop(code["code"].lower(), None)
        return {"job": {"id": f"gid://shopify/Job/{new_id()}", "done": False}, "userErrors": []}

    def add_foreign_discount(self, code: str, title: str, now: str, new_id: Callable[[], int]) -> str:
        """A discount someone else made (the merchant, another app) holding `code`."""
        wanted = {"title": title, "code": code, "startsAt": now, "context": {"all": "ALL"},
                  "customerGets": {"value": {"percentage": 0.1}, "items": {"all": True}}}
        answer = self._create(wanted, now, new_id)
        if answer["userErrors"]:
            raise ValueError(answer["userErrors"][0]["message"])
        return answer["codeDiscountNode"]["id"]

    # --- the web pixel ---------------------------------------------------------------------------

    def _read_pixel(self, pixel_id: Any) -> dict:
        if self.pixel is None or (pixel_id is not None and pixel_id != self.pixel["id"]):
            raise FieldError("No web pixel was found for this app.", "NOT_FOUND")
        return dict(self.pixel)

    def _settings_problem(self, settings: Any) -> tuple[dict | None, str | None]:
        if isinstance(settings, str):
            try:
                settings = json.loads(settings)
            except ValueError:
                return None, "Settings must be JSON"
        if not isinstance(settings, dict):
            return None, "Settings must be a JSON object"
        if self.pixel_fields is not None:
            unknown = sorted(set(settings) - set(self.pixel_fields))
            if unknown:
                return None, f"Settings has fields the extension does not declare: {', '.join(unknown)}"
            for name, required in self.pixel_fields.items():
                value = settings.get(name)
                if value is not None and not isinstance(value, str):
                    return None, f"{name} must be a string"
                if required and not value:
                    return None, f"{name} can't be blank"
        return settings, None

    def _write_pixel(self, pixel_id: Any, wanted: dict, new_id: Callable[[], int]) -> dict:
        def refused(code: str, message: str, field: list[str]) -> dict:
            return {"webPixel": None, "userErrors": [{"field": field, "code": code, "message": message}]}

        if pixel_id is None and self.pixel is not None:
            return refused("TAKEN", "Web pixel is taken.", ["webPixel"])
        if pixel_id is not None and (self.pixel is None or self.pixel["id"] != pixel_id):
            return refused("NOT_FOUND", "Web pixel not found.", ["id"])
        settings, problem = self._settings_problem(wanted.get("settings"))
        if problem:
            return refused("INVALID_SETTINGS", problem, ["webPixel", "settings"])
        # Shopify answers the settings as a JSON string, whichever way they were sent.
        self.pixel = {"id": pixel_id or f"gid://shopify/WebPixel/{new_id()}",
                      "settings": json.dumps(settings, separators=(",", ":"))}
        return {"webPixel": dict(self.pixel), "userErrors": []}


def active(discount: dict, now: datetime, parse: Callable[[str], datetime]) -> bool:
    """Whether a discount's codes work at checkout now (its schedule; the stand-in has no deactivation)."""
    starts, ends = discount.get("startsAt"), discount.get("endsAt")
    return (starts is None or parse(starts) <= now) and (ends is None or now < parse(ends))
