"""The dashboard's web application: a Starlette app over the studies' feeds.

Routes (every ``/api`` answer is JSON, gzip-compressed when large)::

    /                                  the page (one HTML file, its script and styles)
    /static/{name}                     only the assets named in _ASSETS
    /api/config                        what the page may offer ({"control": bool})
    /api/studies                       the study list
    /api/studies/{sid}                 one study's snapshot (every trial, no curves)
    /api/studies/{sid}/since/{v}       what changed after version v
    /api/studies/{sid}/curves?ids=...  learning curves
    /api/studies/{sid}/insight         importance and the GP mean (computed in the background)
    /api/studies/{sid}/trials/{t}/log  the tail of a trial's log
    POST /api/studies/{sid}/trials/{t}/stop   ask the driver to stop a running trial
                                       (only with control=True, which needs a token)

Safety: nothing in a URL is a path (studies are opaque ids, trials integers,
assets a fixed list); with a token (required off localhost) every request
must carry it as a header or cookie; the Host header must name the address
served (a web page elsewhere cannot reach a local dashboard by DNS
rebinding); the Content-Security-Policy lets only the dashboard's own
scripts run, so a trial's error text that holds markup stays text even if
a bug put it into HTML.
"""

from __future__ import annotations

import contextlib
import gzip
import hmac
import importlib.resources
import importlib.util
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..storage.control import request_stop
from .insight import Insights
from .studies import Studies

__all__ = ["create_app", "TOKEN_HEADER", "TOKEN_COOKIE", "CONTROL_HEADER"]

TOKEN_HEADER = "X-Hpcore-Token"
TOKEN_COOKIE = "hpcore_token"
CONTROL_HEADER = "X-Hpcore-Control"
_LOG_TAIL_BYTES = 16_384
_MAX_CURVES = 500

_ASSETS = {  # name -> (file in hpcore/dashboard/static, content type)
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "charts.js": ("charts.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
}
_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)  # 'unsafe-eval': plotly's WebGL charts compile their shaders' glue with Function()


class _Assets:
    """The static files, read once and gzip-compressed once."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[bytes, bytes, str]] = {}

    def get(self, name: str) -> tuple[bytes, bytes, str] | None:
        if name not in self._cache:
            data = _asset_bytes(name)
            if data is None:
                return None
            kind = "text/javascript; charset=utf-8" if name.endswith(".js") else "text/css"
            kind = _ASSETS.get(name, (name, kind))[1]
            self._cache[name] = (data, gzip.compress(data, 6, mtime=0), kind)
        return self._cache[name]


def _asset_bytes(name: str) -> bytes | None:
    if name == "plotly.min.js":  # shipped by the plotly package: no CDN, works offline
        spec = importlib.util.find_spec("plotly")
        if spec is None or spec.origin is None:
            return None
        return (Path(spec.origin).parent / "package_data" / "plotly.min.js").read_bytes()
    if name not in _ASSETS and name != "index.html":
        return None
    file = _ASSETS.get(name, (name, ""))[0]
    return importlib.resources.files("hpcore.dashboard").joinpath("static", file).read_bytes()


def create_app(
    roots: list[str | os.PathLike[str]],
    token: str | None = None,
    hosts: list[str] | None = None,
    control: bool = False,
) -> Starlette:
    """The dashboard app over the studies under ``roots``.

    Parameters
    ----------
    roots : list of path
        Experiment roots, or folders holding them.
    token : str, optional
        Required on every request (header ``X-Hpcore-Token`` or cookie
        ``hpcore_token``; ``/?token=...`` sets the cookie).
    hosts : list of str, optional
        Host names the app answers to (default: the local ones).
    control : bool
        Serve ``POST .../trials/{t}/stop``, which writes a stop request for
        the study's driver (:func:`hpcore.storage.control.request_stop`).
        Needs ``token``: the request must carry it, come from the page's own
        origin and carry the header ``X-Hpcore-Control``.
    """
    if control and not token:
        raise ValueError("control=True needs a token: anyone who reaches the page could stop trials")
    studies = Studies(roots)
    assets = _Assets()
    insights = Insights()

    def page(request: Request) -> Response:
        if token and request.query_params.get("token") is not None:
            if not hmac.compare_digest(request.query_params["token"], token):
                return _forbidden()
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return response
        return _asset(request, assets, "index.html", "text/html; charset=utf-8", cache=False)

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS and name != "plotly.min.js":
            return JSONResponse({"error": "no such asset"}, status_code=404)
        return _asset(request, assets, name, None, cache=name == "plotly.min.js")

    def study_list(request: Request) -> Response:
        out = []
        for sid in studies.ids():
            feed = studies.feed(sid)
            assert feed is not None
            try:
                feed.refresh()
            except Exception as exc:  # a damaged or half-written study: listed, with why
                out.append({"id": sid, "label": studies.label(sid), "error": str(exc)})
                continue
            out.append({"id": sid, "label": studies.label(sid), **feed.summary()})
        return JSONResponse({"studies": out, "control": control})

    def snapshot(request: Request) -> Response:
        feed = _feed(studies, request)
        feed.refresh()
        raw, packed = feed.snapshot_bytes()  # encoded once per version, for every page
        headers = {"Cache-Control": "no-cache"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            raw, headers["Content-Encoding"] = packed, "gzip"
        return Response(raw, media_type="application/json", headers=headers)

    def since(request: Request) -> Response:
        feed = _feed(studies, request)
        feed.refresh()
        return JSONResponse(feed.since(request.path_params["version"]))

    def curves(request: Request) -> Response:
        feed = _feed(studies, request)
        ids = _ids(request.query_params.get("ids", ""))
        return JSONResponse({"curves": feed.curves_of(ids[:_MAX_CURVES])})

    def insight(request: Request) -> Response:
        feed = _feed(studies, request)
        feed.refresh()
        have = request.query_params.get("have", "")
        return JSONResponse(insights.get(feed, int(have) if have.isdigit() else -1))

    def log(request: Request) -> Response:
        feed = _feed(studies, request)
        return JSONResponse({"log": _log_tail(feed.root, request.path_params["trial"])})

    def stop(request: Request) -> Response:
        if request.headers.get(CONTROL_HEADER) != "stop" or not _same_origin(request):
            return JSONResponse({"error": f"a stop request needs the {CONTROL_HEADER} header and "
                                 "the dashboard's own origin"}, status_code=403)
        feed = _feed(studies, request)
        feed.refresh()
        trial = request.path_params["trial"]
        row = feed.rows.get(trial)
        if row is None or row[1] != "running":
            return JSONResponse({"error": f"trial {trial} is not running"}, status_code=409)
        request_stop(feed.root, trial, by="hpcore dashboard")
        return JSONResponse({"requested": trial}, status_code=202)

    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/config", lambda request: JSONResponse({"control": control})),
        Route("/api/studies", study_list),
        Route("/api/studies/{sid}", snapshot),
        Route("/api/studies/{sid}/since/{version:int}", since),
        Route("/api/studies/{sid}/curves", curves),
        Route("/api/studies/{sid}/insight", insight),
        Route("/api/studies/{sid}/trials/{trial:int}/log", log),
    ]
    if control:
        routes.append(Route("/api/studies/{sid}/trials/{trial:int}/stop", stop, methods=["POST"]))
    middleware = [
        Middleware(TrustedHostMiddleware,
                   allowed_hosts=hosts or ["127.0.0.1", "localhost", "[::1]", "::1"]),
        Middleware(_Guard, token=token),
        Middleware(GZipMiddleware, minimum_size=1024, compresslevel=5),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        insights.close()  # an analysis under way is not waited for

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={_NotFound: _not_found})
    app.state.studies = studies
    app.state.insights = insights
    return app


class _NotFound(Exception):
    pass


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=404)


def _forbidden() -> Response:
    return JSONResponse({"error": "this dashboard needs its token (printed when it started)"},
                        status_code=403)


class _Guard:
    """Token check and security headers, as plain ASGI middleware."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.token and not self._allowed(request):
            await _forbidden()(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", _CSP.encode()),
                            (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _allowed(self, request: Request) -> bool:
        assert self.token is not None
        if request.url.path == "/" and "token" in request.query_params:
            return True  # the page checks it and sets the cookie
        given = request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())


def _feed(studies: Studies, request: Request) -> Any:
    feed = studies.feed(request.path_params["sid"])
    if feed is None:
        raise _NotFound("no such study under the dashboard's roots")
    return feed


def _same_origin(request: Request) -> bool:
    """Whether a request came from the dashboard's own page (its Origin names this host).

    Browsers send Origin with every POST; a missing one (a script) passes, as the
    token and the custom header already exclude a cross-site form.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1].rstrip("/") == request.headers.get("host", "")


def _ids(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if part.isdigit():
            out.append(int(part))
    return out


def _asset(request: Request, assets: _Assets, name: str, kind: str | None,
           cache: bool) -> Response:
    found = assets.get(name)
    if found is None:
        return JSONResponse({"error": f"{name} is not installed (pip install "
                             "'hpcore[dashboard]')"}, status_code=404)
    data, packed, default_kind = found
    headers = {"Cache-Control": "public, max-age=86400" if cache else "no-cache"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        data = packed
    return Response(data, media_type=kind or default_kind, headers=headers)


def _log_tail(root: Path, trial_id: int) -> str | None:
    """The end of ``trials/NNNNN/trial.log``, read without following any link."""
    folder = root / "trials" / f"{trial_id:05d}"
    for part in (root / "trials", folder):
        try:
            if not stat.S_ISDIR(os.lstat(part).st_mode):
                return None  # a link or a file where a trial folder belongs
        except OSError:
            return None
    try:
        fd = os.open(folder / "trial.log", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - _LOG_TAIL_BYTES))
        return f.read().decode("utf-8", "replace")
