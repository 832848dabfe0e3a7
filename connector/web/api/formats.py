"""How the API writes what it answers with, when the core's money and share formats do not cover it."""

from connector.core.times import format_time

__all__ = ["format_time"]
