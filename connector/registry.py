"""Finds platform adapters through the `connector.platforms` entry points, so the core never imports one."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from connector.errors import UnknownPlatform
from connector.core.platform import PlatformAdapter

GROUP = "connector.platforms"


@lru_cache(maxsize=1)
def adapters() -> dict[str, PlatformAdapter]:
    """Every installed adapter by platform name."""
    found: dict[str, PlatformAdapter] = {}
    for entry in entry_points(group=GROUP):
        adapter = entry.load()
        found[adapter.name] = adapter
    return found


def get(platform: str) -> PlatformAdapter:
    try:
        return adapters()[platform]
    except KeyError:
        raise UnknownPlatform(platform) from None
