"""The API's guards: keys, the audit secret, rate limits, body size limits and the security headers.

Keys come from PLANQA_API_KEYS; the audit log records a keyed hash of a key (`key_id`), never the key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.config import Settings

log = logging.getLogger(__name__)


def key_id(key: str, secret: bytes) -> str:
    """What the audit log records instead of the key: an HMAC under a server secret, so that even a
    short key cannot be found from the log by hashing guesses."""
    return "key-" + hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def matches_key(supplied: str | None, keys: list[bytes]) -> bool:
    """Compare against every key, constant-time, so timing says nothing about which key was close."""
    supplied_bytes = (supplied or "").encode("utf-8")
    matches = [hmac.compare_digest(supplied_bytes, k) for k in keys]
    return bool(supplied) and any(matches)


def audit_secret(settings: Settings) -> bytes:
    """settings.audit_secret, else a random secret kept beside the index (created once, mode 0600)."""
    if settings.audit_secret:
        return settings.audit_secret.encode("utf-8")
    path = Path(settings.index_dir) / ".audit-secret"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text("utf-8").strip().encode("utf-8")
    except FileExistsError:  # another worker created it a moment ago
        return path.read_text("utf-8").strip().encode("utf-8")
    except OSError as exc:  # a read-only index: ids still keyed, but not stable across restarts
        log.warning("cannot keep the audit secret in %s (%s): set PLANQA_AUDIT_SECRET; using a per-process one", path, exc)
        return secrets.token_bytes(32)


class RateLimiter:
    """A token bucket per caller: `per_minute` requests a minute, with bursts up to that many."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, caller: str) -> int:
        """0 when the call may go ahead (and is counted), else how long to wait before trying again."""
        if self.capacity <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(caller, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[caller] = (tokens - 1, now)
                return 0
            self._buckets[caller] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))


bearer_scheme = HTTPBearer(auto_error=False, description="Authorization: Bearer KEY (a key from PLANQA_API_KEYS)")
header_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: KEY")


def require_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    header: Annotated[str | None, Depends(header_scheme)],
) -> str:
    """The dependency guarding /api: returns the caller's key id ("open" when no keys are configured)."""
    caller = _caller(request, (bearer.credentials if bearer else None) or header or "")
    wait = request.app.state.rate_limiter.wait_seconds(caller if caller != "open" else f"open:{_client_host(request)}")
    if wait:
        raise HTTPException(
            429, f"请求过于频繁 / too many requests: try again in {wait} s", headers={"Retry-After": str(wait)}
        )
    return caller


def _client_host(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _caller(request: Request, supplied: str) -> str:
    keys: list[bytes] = request.app.state.api_keys
    if not keys:
        return "open"
    if matches_key(supplied, keys):
        return key_id(supplied, request.app.state.audit_secret)
    raise HTTPException(
        401,
        "缺少或无效的API密钥 / missing or invalid API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
        headers={"WWW-Authenticate": "Bearer"},
    )


Caller = Annotated[str, Depends(require_key)]


# ---------------------------------------------------------------- request size


class BodyLimit(Exception):
    pass


class BodyLimitMiddleware:
    """413 for /api bodies over the limit, by Content-Length or by counting a chunked stream."""

    def __init__(self, app: ASGIApp, upload_limit: int, json_limit: int) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.json_limit = json_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"].startswith("/api/batch") else self.json_limit
        length = dict(scope["headers"]).get(b"content-length")
        if length and length.isdigit() and int(length) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
            await self._chunked(scope, receive, send, limit)
            return
        seen, started = 0, False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyLimit
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyLimit:
            if not started:
                await _too_large(limit)(scope, receive, send)


    async def _chunked(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """A body without Content-Length is read up to the limit before the app sees it: once FastAPI
        is parsing, a refusal would come out as its own 400 "error parsing the body"."""
        messages: list[Message] = []
        seen, more = 0, True
        while more:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > limit:
                await _too_large(limit)(scope, receive, send)
                return
            more = message["type"] == "http.request" and message.get("more_body", False)

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class SecurityHeadersMiddleware:
    """Headers for a page that a portal embeds: who may frame it, no MIME sniffing, no referrer leaks.

    img-src keeps the page from fetching images elsewhere (a markdown image in a question).
    """

    def __init__(self, app: ASGIApp, frame_ancestors: str) -> None:
        self.app = app
        policy = f"frame-ancestors {frame_ancestors}; img-src 'self' data: blob:; object-src 'none'; base-uri 'self'"
        self.headers = [
            (b"content-security-policy", policy.encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"请求过大 / request too large: the limit is {size_text(limit)}"},
        status_code=413,
    )


def size_text(limit: int) -> str:
    return f"{limit / 1024 / 1024:.0f} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
