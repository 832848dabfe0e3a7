"""The worker: handles stored events into conversions, and delivers due conversions. Several may run at once."""

from connector.worker.runner import Worker

__all__ = ["Worker"]
