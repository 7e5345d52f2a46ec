"""What stands between a client and the server: the API key (every route but ``/health``), the
headers every response carries, and the lock that makes one server the owner of a data dir."""

from __future__ import annotations

import fcntl
import hmac
import os
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

KEY_HEADER = b"x-api-key"
KEY_COOKIE = "nvwa_api_key"
KEY_QUERY = "api_key"
OPEN_PATHS = ("/health",)

# The viewer: its own script and styles only; GLB and video from this origin (blob: for dropped files);
# three.js decodes textures from blob:/data: URLs. No frames from elsewhere, no plugins, no <base>.
VIEWER_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
              "media-src 'self' blob:; connect-src 'self' blob: data:; worker-src 'self' blob:; object-src 'none'; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
# FastAPI's /docs and /redoc pages load Swagger UI / ReDoc from their CDN and run an inline start-up script.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
            "connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def key_matches(given: str | bytes | None, key: str) -> bool:
    """Constant-time comparison (no timing tells how much of a guess was right)."""
    if given is None:
        return False
    if isinstance(given, str):
        given = given.encode("utf-8", "replace")
    return hmac.compare_digest(given, key.encode())


def _csp_for(path: str) -> str:
    if path == "/" or path.startswith("/viewer"):  # the front page and the viewer: our own scripts only
        return VIEWER_CSP
    if path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        return DOCS_CSP
    return API_CSP


class GuardMiddleware:
    """Pure ASGI (streams and SSE pass through untouched).

    - Security headers on every response: ``nosniff``, a CSP fitting the route, frame options, no referrer.
    - With an API key set: every route but ``/health`` and CORS preflights needs it, as the ``X-API-Key``
      header or the ``nvwa_api_key`` cookie. A page opened in a browser (the viewer, the docs) can't send a
      header, so ``GET <page>?api_key=<key>`` sets that cookie (HttpOnly, SameSite=Strict) and redirects to
      the same address without the key; the page's own requests (GLB, video, OpenAPI) then carry the cookie.
    """

    def __init__(self, app, api_key: str | None):
        self.app, self.api_key = app, api_key

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                 (b"content-security-policy", _csp_for(path).encode()),
                 (b"x-frame-options", b"SAMEORIGIN" if path == "/" or path.startswith("/viewer") else b"DENY")]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": list(message.get("headers", [])) + [h for h in extra if h[0] not in names]}
            await send(message)

        if self.api_key and not self._allowed(scope, path):
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
            if scope["method"] == "GET" and KEY_QUERY in query and key_matches(query[KEY_QUERY], self.api_key):
                rest = urlencode([(k, v) for k, v in query.items() if k != KEY_QUERY])
                return await _respond(send_with_headers, 303, b"", [
                    (b"location", (path + ("?" + rest if rest else "")).encode("latin-1", "replace")),
                    (b"set-cookie", f"{KEY_COOKIE}={self.api_key}; Path=/; HttpOnly; SameSite=Strict".encode())])
            return await _respond(send_with_headers, 401, b'{"detail":"missing or wrong API key: send the X-API-Key '
                                  b'header (a browser page: open it once with ?api_key=<key>)"}',
                                  [(b"content-type", b"application/json"), (b"www-authenticate", b'ApiKey header="X-API-Key"')])
        return await self.app(scope, receive, send_with_headers)

    def _allowed(self, scope, path: str) -> bool:
        if path in OPEN_PATHS:
            return True
        headers = dict(scope.get("headers", []))
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            return True  # a CORS preflight carries no credentials by design; the real request does
        if key_matches(headers.get(KEY_HEADER), self.api_key):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:  # a malformed Cookie header is no key
            return False
        return KEY_COOKIE in cookie and key_matches(cookie[KEY_COOKIE].value, self.api_key)


async def _respond(send, status: int, body: bytes, headers: list) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class DataDirInUse(Exception):
    """Another server owns this data dir."""


class DataDirLock:
    """One server per data dir: an exclusive ``flock`` on ``<data dir>/server.lock``, held while the server
    lives and released by the kernel when it dies (SIGKILL included), so no stale lock is left."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / "server.lock"
        self._fh = None

    def acquire(self) -> "DataDirLock":
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "unknown"
            fh.close()
            raise DataDirInUse(f"data dir {self.path.parent} is in use by another nvwa server (pid {owner}); "
                               "stop it, or give this one its own NVWA_DATA_DIR") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def declare_api_key(app) -> None:
    """The OpenAPI document says what the middleware enforces: X-API-Key on every operation but /health."""
    build = app.openapi

    def openapi():
        if app.openapi_schema is None:
            doc = build()
            doc.setdefault("components", {}).setdefault("securitySchemes", {})["ApiKey"] = {
                "type": "apiKey", "in": "header", "name": "X-API-Key"}
            doc["security"] = [{"ApiKey": []}]
            for path, ops in doc["paths"].items():
                for op in ops.values():
                    if path == "/health":
                        op["security"] = []
                    else:
                        op["responses"].setdefault("401", {
                            "description": "missing or wrong API key",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}}})
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi
