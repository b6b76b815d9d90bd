"""The sidecar's aiohttp application: routes, auth, limits, errors, lifespan and `serve`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
import hmac
import json
import logging
import math
import re
import signal
import sys
import time
from typing import Any, Protocol, TextIO

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import __version__
from .analyze import run_analysis
from .cache import TextCache
from .enrich import DEFAULT_CATEGORIES, DEFAULT_PRIORITIES, ModelBackend, classify_cached
from .errors import ApiError, error_response
from .models import (
    ModelError,
    ModelLoadingError,
    ModelManager,
    ModelUnavailableError,
)
from .queue import QueueFullError, WorkQueue
from .schemas import CLASSIFY_SCHEMA, EMBED_SCHEMA, RERANK_SCHEMA, validate
from .settings import Settings

_LOGGER = logging.getLogger(__name__)

MIB = 1024 * 1024
SMALL_BODY_LIMIT = 1 * MIB
ANALYZE_BODY_LIMIT = 256 * MIB
# Bodies above this are parsed in a worker thread so /health keeps answering.
_THREAD_PARSE_BYTES = 256 * 1024
SHUTDOWN_TIMEOUT_S = 10.0


class ServerBackend(ModelBackend, Protocol):
    """What the routes need of the ModelManager beyond enrichment."""

    async def ensure_loaded(self, role: str, *, wait: bool = True) -> None: ...

    def loaded_roles(self) -> list[str]: ...

    async def trim_to_budget(self) -> list[str]: ...


SETTINGS_KEY = web.AppKey("settings", Settings)
MANAGER_KEY = web.AppKey("manager", ServerBackend)
CACHE_KEY = web.AppKey("cache", TextCache)
QUEUE_KEY = web.AppKey("queue", WorkQueue)
# Set when shutdown starts: requests waiting for a model load stop waiting (see ensure_ready).
STOPPING_KEY = web.AppKey("stopping", asyncio.Event)
_OWNED_MANAGER_KEY = web.AppKey("owned_manager", bool)

# Absolute paths, home, parent or current directory, Windows separators or drives.
_PATH_LIKE = re.compile(r"(^[/~.])|(\.\.)|\\|(^[A-Za-z]:)|\x00|(//)")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# Middlewares ------------------------------------------------------------------------------


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the JSON error shape; never leak a traceback to the client."""
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err.status, err.code, err.message, err.headers)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            err.status, "http_error"
        )
        message = {
            404: f"There is no route {request.path}.",
            405: f"{request.method} is not allowed on {request.path}.",
        }.get(err.status, err.reason)
        headers = {k: v for k, v in err.headers.items() if k.lower() == "allow"}
        return error_response(err.status, code, message, headers)
    except asyncio.CancelledError:
        raise
    except Exception:
        _LOGGER.exception("Unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "The sidecar failed; see its log.")


def auth_middleware(token: str | None) -> Middleware:
    """Bearer token on every route but /health (no token when auth is explicitly off)."""
    expected = token.encode("utf-8") if token is not None else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is not None and request.path != "/health":
            header = request.headers.get("Authorization", "")
            scheme, _, given = header.partition(" ")
            # compare_digest: the time taken must not reveal how much of the token matched.
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                # surrogateescape: aiohttp decodes non-UTF-8 header bytes that way; they must
                # compare as bytes (unequal), not fail the request with a 500.
                given.strip().encode("utf-8", "surrogateescape"),
                expected,
            ):
                raise ApiError(
                    401,
                    "unauthorized",
                    "A valid bearer token is required.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await handler(request)

    return middleware


# Request helpers --------------------------------------------------------------------------


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over `limit` before reading it all."""
    too_large = ApiError(413, "body_too_large", f"The request body is larger than {limit} bytes.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: web.Request, limit: int) -> Any:
    """Parsed JSON body (400 when it is not JSON)."""
    body = await read_body(request, limit)
    try:
        if len(body) > _THREAD_PARSE_BYTES:
            return await asyncio.to_thread(json.loads, body)
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {err}.") from err
    except RecursionError as err:
        # json recurses per nesting level: 10^5 brackets exhaust the stack, which is bad input.
        raise ApiError(400, "invalid_json", "The body is nested too deeply.") from err


def check_model_name(app: web.Application, role: str, name: str | None) -> None:
    """A request may name its model only by role or by the configured source.

    Requests never choose files: a path-like name is refused outright, so nothing outside the
    cache dir is read or written because of a request.
    """
    if name is None or name == role:
        return
    if _PATH_LIKE.search(name):
        raise ApiError(400, "invalid_model_name", "Model names may not be paths.")
    source = app[MANAGER_KEY].status().get(role, {}).get("source")
    if name != source:
        raise ApiError(404, "unknown_model", f"No {role} model named {name!r} is configured.")


async def ensure_ready(app: web.Application, role: str) -> None:
    """Load the role's model if this request is the first to need it; while another request
    loads it this raises ModelLoadingError, which `model_errors` (around every caller) turns
    into 503 + Retry-After.

    A load (a conversion: minutes) is abandoned when shutdown starts, with 503 shutting_down:
    otherwise the shutdown would wait SHUTDOWN_TIMEOUT_S for this request for nothing.
    """
    load = asyncio.ensure_future(app[MANAGER_KEY].ensure_loaded(role, wait=False))
    stopping = asyncio.ensure_future(app[STOPPING_KEY].wait())
    try:
        done, _ = await asyncio.wait({load, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        # No-op once done; else the wait for the worker thread ends (the thread runs on).
        load.cancel()
    if load not in done:
        raise ApiError(
            503,
            "shutting_down",
            "The sidecar is shutting down; retry when it is back.",
            headers={"Retry-After": "5"},
        )
    load.result()


@contextlib.asynccontextmanager
async def queued(app: web.Application) -> AsyncIterator[None]:
    """A slot in the work queue, or 429."""
    try:
        async with app[QUEUE_KEY].slot():
            yield
    except QueueFullError as err:
        raise ApiError(
            429,
            "queue_full",
            "Too many requests are waiting; retry later.",
            headers={"Retry-After": "5"},
        ) from err


@contextlib.contextmanager
def model_errors(role: str) -> Any:
    """Map model failures to API errors."""
    try:
        yield
    except ModelLoadingError as err:
        retry = max(1, math.ceil(float(getattr(err, "retry_after", 5) or 5)))
        raise ApiError(
            503,
            "model_loading",
            f"The {role} model is loading; retry in {retry} s.",
            headers={"Retry-After": str(retry)},
        ) from err
    except ModelUnavailableError as err:
        raise ApiError(503, "model_unavailable", f"The {role} model is unavailable: {err}") from err
    except ModelError as err:
        raise ApiError(500, "model_error", f"The {role} model failed: {err}") from err


# Routes -----------------------------------------------------------------------------------

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """Liveness; no token, so container health checks need no secret."""
    loaded = request.app[MANAGER_KEY].loaded_roles()
    return web.json_response({"status": "ok", "version": __version__, "models_loaded": loaded})


@routes.get("/v1/models")
async def models(request: web.Request) -> web.Response:
    """Per role: source, precision, size, loaded, last latency (from the ModelManager)."""
    status = request.app[MANAGER_KEY].status()
    return web.json_response(
        {
            "models": {role: dict(info) for role, info in status.items()},
            "queue": request.app[QUEUE_KEY].stats(),
        }
    )


@routes.post("/v1/embed")
async def embed(request: web.Request) -> web.Response:
    """L2-normalised embeddings of the texts."""
    data = validate(EMBED_SCHEMA, await read_json(request, SMALL_BODY_LIMIT))
    check_model_name(request.app, "embed", data.get("model"))
    with model_errors("embed"):
        await ensure_ready(request.app, "embed")
        async with queued(request.app):
            vectors = await request.app[MANAGER_KEY].embed(data["texts"])
    return web.json_response(
        {"embeddings": vectors.astype(float).tolist(), "dim": int(vectors.shape[1])}
    )


@routes.post("/v1/rerank")
async def rerank(request: web.Request) -> web.Response:
    """Cross-encoder scores of (query, document) pairs, in the documents' order."""
    data = validate(RERANK_SCHEMA, await read_json(request, SMALL_BODY_LIMIT))
    check_model_name(request.app, "rerank", data.get("model"))
    with model_errors("rerank"):
        await ensure_ready(request.app, "rerank")
        async with queued(request.app):
            scores = await request.app[MANAGER_KEY].rerank(data["query"], data["documents"])
    return web.json_response({"scores": [float(s) for s in scores]})


@routes.post("/v1/classify")
async def classify(request: web.Request) -> web.Response:
    """Category and priority of each text, with confidences and every label's score."""
    data = validate(CLASSIFY_SCHEMA, await read_json(request, SMALL_BODY_LIMIT))
    check_model_name(request.app, "classify", data.get("model"))
    with model_errors("classify"):
        await ensure_ready(request.app, "classify")
        async with queued(request.app):
            results = await classify_cached(
                request.app[MANAGER_KEY],
                request.app[CACHE_KEY],
                data["texts"],
                categories=data.get("categories", DEFAULT_CATEGORIES),
                priorities=data.get("priorities", DEFAULT_PRIORITIES),
            )
    return web.json_response({"results": results})


@routes.post("/v1/analyze")
async def analyze(request: web.Request) -> web.Response:
    """Events in, enriched patterns out (see docs/sidecar-api.md)."""
    data = await read_json(request, ANALYZE_BODY_LIMIT)
    async with queued(request.app):
        result = await run_analysis(
            data, backend=request.app[MANAGER_KEY], cache=request.app[CACHE_KEY]
        )
        # Over the memory budget, the models go now, not after BUDGET_SETTLE_S idle: the next
        # analysis may follow at once (one after another, nothing would ever be idle). Still
        # in the queue's slot, so the next one cannot have started on a model yet.
        await request.app[MANAGER_KEY].trim_to_budget()
    body = await asyncio.to_thread(json.dumps, result)
    return web.Response(body=body.encode("utf-8"), content_type="application/json")


# Application ------------------------------------------------------------------------------


def create_app(settings: Settings, manager: ServerBackend | None = None) -> web.Application:
    """The aiohttp application; resources open and close in its cleanup context."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware(settings.token)],
        # Per-route limits are enforced by read_body; this is only the outer bound.
        client_max_size=ANALYZE_BODY_LIMIT,
    )
    app[SETTINGS_KEY] = settings
    app[QUEUE_KEY] = WorkQueue(max_running=settings.max_concurrency, max_waiting=settings.max_queue)
    app[STOPPING_KEY] = asyncio.Event()
    app[_OWNED_MANAGER_KEY] = manager is None
    if manager is not None:
        app[MANAGER_KEY] = manager
    app.cleanup_ctx.append(_lifespan)
    app.add_routes(routes)
    return app


async def _lifespan(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app[CACHE_KEY] = await asyncio.to_thread(TextCache, settings.text_cache_path)
    if app[_OWNED_MANAGER_KEY]:
        app[MANAGER_KEY] = ModelManager(
            cache_dir=settings.model_cache_dir,
            models=dict(settings.models) or None,
            precision=settings.precision,
            idle_unload_s=settings.idle_unload_s,
            memory_budget_mb=settings.memory_budget_mb,
            allow_convert=settings.allow_convert,
        )
    try:
        yield
    finally:
        if app[_OWNED_MANAGER_KEY]:
            manager = app[MANAGER_KEY]
            if isinstance(manager, ModelManager):
                await manager.close()
        await asyncio.to_thread(app[CACHE_KEY].close)


def unfinished_threads(app: web.Application) -> list[str]:
    """What runs in worker threads now: Python cannot stop those, only exit without them."""
    work = [
        f"the {role} model {'load' if info.get('size_bytes') else 'conversion'}"
        for role, info in app[MANAGER_KEY].status().items()
        if info.get("loading")
    ]
    if app[QUEUE_KEY].running > 0:
        work.append("the request in the work queue")
    return work


def bound_address(runner: web.AppRunner) -> tuple[str, int]:
    """The host and port actually bound (port 0 asks the OS for a free one)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    raise RuntimeError("the server is not listening on TCP")


async def serve(
    settings: Settings,
    *,
    manager: ServerBackend | None = None,
    ready_stream: TextIO | None = None,
    stop: asyncio.Event | None = None,
) -> bool:
    """Run until SIGTERM/SIGINT (or `stop`); print the ready line.

    True if worker threads were still busy (an analysis, a model load or conversion): the
    caller must then exit without joining them.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    app = create_app(settings, manager)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        host, port = bound_address(runner)
        stream = ready_stream if ready_stream is not None else sys.stdout
        # One JSON line: the integration's supervisor waits for it before talking to us.
        stream.write(
            json.dumps({"event": "ready", "host": host, "port": port, "version": __version__})
            + "\n"
        )
        stream.flush()
        _LOGGER.info("HomeIQ sidecar %s listening on %s:%s", __version__, host, port)
        started = time.monotonic()
        await stop.wait()
        _LOGGER.info("Shutting down after %.0f s", time.monotonic() - started)
        # Read before the cleanup: cancelled waits reset the managers' "loading" flags.
        unfinished = unfinished_threads(app)
        app[STOPPING_KEY].set()
        if unfinished:
            _LOGGER.warning(
                "Interrupting %s: exiting without waiting for it", ", ".join(unfinished)
            )
        if any("conversion" in work for work in unfinished):
            # store.staging publishes by one rename of a complete temp dir.
            _LOGGER.info(
                "Nothing of the unfinished conversion is published (the next use converts "
                "again); a load sweeps its hidden temp dir once it is an hour old"
            )
    finally:
        await runner.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return bool(unfinished)


__all__ = [
    "ANALYZE_BODY_LIMIT",
    "SMALL_BODY_LIMIT",
    "create_app",
    "serve",
]
