"""The live web dashboard: ``hpcore dashboard ROOT [ROOT ...]`` (docs/dashboard.md).

It reads the studies under the given roots through the storage layer,
read-only, while drivers write them, and serves a local web app: the study
list, a live study page and a compare view. Needs ``pip install
"hpcore[dashboard]"`` (Starlette, uvicorn and plotly, whose plotly.js it
serves itself).
"""

from __future__ import annotations

__all__ = ["serve", "create_app"]


def __getattr__(name: str):  # the web libraries load only when the dashboard is used
    if name == "serve":
        from .server import serve

        return serve
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
