"""Errors the model layer raises; the server maps each ``code`` to an HTTP status."""

from __future__ import annotations


class ModelError(Exception):
    """Base class: ``code`` is snake_case, the message is a plain English sentence."""

    code = "model_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelUnavailableError(ModelError):
    """The model cannot be loaded or converted here (not cached, no torch, offline, broken)."""

    code = "model_unavailable"


class ModelLoadingError(ModelError):
    """A load is underway; the caller may retry after ``retry_after`` seconds."""

    code = "model_loading"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
