"""A faithful in-memory Chatwoot v4.15.1 Application API for tests and demos: `Sandbox(...).start()`."""

from .sandbox import RequestLogEntry, Sandbox
from .state import ApiError

__all__ = ["ApiError", "RequestLogEntry", "Sandbox"]
