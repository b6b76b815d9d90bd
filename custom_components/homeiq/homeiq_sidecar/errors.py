"""API errors: every failure leaves the server as `{"error": {"code", "message"}}`."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web


class ApiError(Exception):
    """An error with an HTTP status, a snake_case code and an English message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """The JSON error body every route uses."""
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )
