"""Serve the console page and its scripts and styles; everything is shipped, nothing is fetched."""

from __future__ import annotations

import re
from importlib import resources

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from api.problems import Problem

router = APIRouter(tags=["console"], include_in_schema=False)

STATIC = resources.files("api.console") / "static"
#: Only plain file names of our own scripts and styles: no paths, no dot files.
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.(js|css)")
TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
#: Same origin only: the page loads nothing from elsewhere and may not be framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _read(name: str) -> bytes:
    return (STATIC / name).read_bytes()


@router.get("/")
def root() -> Response:
    """The address a person opens first: the console (API clients use the `/v1` paths)."""
    return RedirectResponse("/console", status_code=307)


@router.get("/console")
def console_page() -> Response:
    """The console's single page; the token is entered there and kept in sessionStorage."""
    return Response(
        _read("index.html"),
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


@router.get("/console/static/{name}")
def console_static(name: str) -> Response:
    """One of the console's own scripts or style sheets."""
    match = NAME.fullmatch(name)
    if match is None or not (STATIC / name).is_file():
        raise Problem(404, f"the console has no file '{name}'")
    return Response(
        _read(name),
        media_type=TYPES[match.group(1)],
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )
