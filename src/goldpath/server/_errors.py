"""One mapping from failures to PROTOCOL.md's error codes, for HTTP bodies and WebSocket frames."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from goldpath.errors import (
    AuthError,
    ConflictError,
    GoldpathError,
    InvalidContextError,
    LimitExceededError,
    NotFoundError,
    RegistryError,
)
from goldpath.server._auth import LoginLimitedError, RegistrationLimitedError
from goldpath.server._caps import ThreadLimitedError
from goldpath.server._metrics import metrics_of
from goldpath.server._run_rules import (
    MessageNotTextError,
    MessageTooLargeError,
    RateLimitedError,
)

__all__ = [
    "ERROR_CODES",
    "ApiError",
    "ErrorCode",
    "InternalErrorMiddleware",
    "Problem",
    "classify",
    "error_body",
    "install_error_handlers",
]

logger = logging.getLogger("goldpath.server")

ErrorCode: TypeAlias = Literal[
    "bad_request", "unauthorized", "not_found", "conflict", "rate_limited", "too_large", "internal"
]
"""Every error code the server sends, in HTTP bodies and error frames (docs/protocol.md)."""
ERROR_CODES: Final = get_args(ErrorCode)

INTERNAL_MESSAGE = "the server failed to handle this request; it has been logged, try again later"


@dataclass(frozen=True, slots=True)
class Problem:
    """A failure as the protocol tells it: HTTP status, error code, message, Retry-After."""

    status: int
    code: ErrorCode
    message: str
    retry_after: int | None = None

    def headers(self) -> dict[str, str] | None:
        if self.retry_after is not None:
            return {"Retry-After": str(self.retry_after)}
        if self.status == 401:
            return {"WWW-Authenticate": "Bearer"}
        return None


class ApiError(Exception):
    """Raised by a route to answer with a protocol error body."""

    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(status, code, message)


def classify(exc: BaseException) -> Problem:
    """The protocol's answer to ``exc``; anything unexpected is ``internal`` and says nothing."""
    if isinstance(exc, ApiError):
        return exc.problem
    if isinstance(exc, GoldpathError):
        message = str(exc)
        if isinstance(exc, AuthError):
            return Problem(401, "unauthorized", message)
        if isinstance(exc, NotFoundError):
            return Problem(404, "not_found", message)
        if isinstance(exc, InvalidContextError):
            # A client's id that cannot be one ("null", "undefined", whitespace) reached a
            # context: to the client it names nothing, so it is a missing object.
            return Problem(404, "not_found", "no such object; check the id")
        if isinstance(exc, ConflictError):
            return Problem(409, "conflict", message)
        if isinstance(exc, MessageNotTextError):
            return Problem(422, "bad_request", message)
        if isinstance(exc, MessageTooLargeError):
            return Problem(422, "too_large", message)
        if isinstance(exc, RegistryError):
            return Problem(422, "bad_request", message)
        if isinstance(
            exc,
            RateLimitedError | LoginLimitedError | RegistrationLimitedError | ThreadLimitedError,
        ):
            return Problem(429, "rate_limited", message, exc.retry_after)
        if isinstance(exc, LimitExceededError):
            return Problem(429, "rate_limited", message, 1)
    return Problem(500, "internal", INTERNAL_MESSAGE)


def error_body(code: ErrorCode, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        error_body(problem.code, problem.message),
        status_code=problem.status,
        headers=problem.headers(),
    )


_STATUS_CODES: dict[int, ErrorCode] = {
    401: "unauthorized",
    404: "not_found",
    409: "conflict",
    413: "too_large",
}


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code: ErrorCode = "internal" if status >= 500 else _STATUS_CODES.get(status, "bad_request")
    if status == 404 and exc.detail == "Not Found":
        message = f"there is no {request.url.path}; see /openapi.json for the routes"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    elif status == 400:
        # FastAPI's answer to a body it cannot parse (not UTF-8, nested too deep): a bad
        # body is 422 bad_request, like every other (PROTOCOL.md).
        status, message = 422, "the body is not valid JSON; send a JSON object"
    else:
        message = str(exc.detail)
    response = JSONResponse(error_body(code, message), status_code=status)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(Problem(422, "bad_request", describe_validation(exc.errors())))


def describe_validation(errors: Any) -> str:
    """Pydantic errors as one readable line: where, and what was wrong."""
    parts = []
    for error in list(errors)[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is not valid"


async def _on_goldpath_error(request: Request, exc: Exception) -> JSONResponse:
    problem = classify(exc)
    metrics_of(request).answered(exc)
    if problem.status == 500:
        logger.error("request failed: %s", exc, exc_info=exc, extra=_ids(request))
    return problem_response(problem)


class InternalErrorMiddleware:
    """Answers an unexpected exception with 500 ``internal`` and logs it, without re-raising.

    Starlette's own handler re-raises after answering, which makes the server drop the
    keep-alive connection; here the connection stays usable and nothing leaks.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            request_id = scope.get("state", {}).get("request_id", "-")
            logger.error("request failed: %s", exc, exc_info=exc, extra={"request_id": request_id})
            if started:
                raise
            await problem_response(Problem(500, "internal", INTERNAL_MESSAGE))(scope, receive, send)


def _ids(request: Request) -> dict[str, str]:
    return {"request_id": str(getattr(request.state, "request_id", "-"))}


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app can answer, including FastAPI's own, in the protocol's body."""
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(GoldpathError, _on_goldpath_error)
    app.add_exception_handler(ApiError, _on_goldpath_error)
    app.add_middleware(InternalErrorMiddleware)
