"""Serving the dashboard: a socket on a free port, uvicorn, the address printed."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys
import webbrowser
from collections.abc import Callable
from typing import Any

from ..errors import ArgumentError

__all__ = ["serve", "is_local", "bind"]

_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_local(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (a loopback address)."""
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ArgumentError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port "
            "(0 picks a free one) or --host."
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    roots: list[str | os.PathLike[str]],
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    open_browser: bool = False,
    allow_control: bool = False,
    echo: Callable[[str], Any] = print,
) -> None:
    """Serve the dashboard over ``roots`` until interrupted (Ctrl-C).

    Parameters
    ----------
    roots : list of path
        Experiment roots, or folders holding them (looked through again every
        few seconds, so studies started later appear).
    host : str, default '127.0.0.1'
        The address to listen on. Any other than a loopback address needs a
        token: one is made and printed unless ``token`` is given.
    port : int, default 0
        0 picks a free port; the address is printed.
    token : str, optional
        Required on every request (see :func:`hpcore.dashboard.app.create_app`).
    open_browser : bool, default False
        Open the page in the default browser.
    allow_control : bool, default False
        Let the page ask a search to stop a running trial
        (:func:`hpcore.storage.control.request_stop`); a token is then
        required on any host.
    """
    try:
        import uvicorn

        from .app import create_app
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ArgumentError(
            f"the dashboard needs its extra ({exc.name} is missing): "
            "pip install 'hpcore[dashboard]'"
        ) from None
    if (allow_control or not is_local(host)) and not token:
        token = secrets.token_urlsafe(24)
    hosts = None if is_local(host) else ["*"]  # off loopback the token guards, not the name
    app = create_app(roots, token=token, hosts=hosts, control=allow_control)
    sock = bind(host, port)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    echo(f"hpcore dashboard: {url}{'?token=' + token if token else ''}  (Ctrl-C to stop)")
    if token:
        echo(f"token: {token}  (header X-Hpcore-Token, or open the address above once)")
    sys.stdout.flush()
    if open_browser:
        webbrowser.open(url + (f"?token={token}" if token else ""))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        app.state.insights.close()
