"""/docs and /redoc from the Swagger UI and ReDoc files a package ships: no outside host at all."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse

#: Where `fastapi_offline` mounts its copies of the Swagger UI and ReDoc bundles.
ASSETS = "/static-offline-docs"
#: The pages may load from this server only. ReDoc's footer names its maker with a logo from
#: the maker's CDN; the policy keeps the browser from fetching it (and anything else outside).
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


def _page(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = POLICY
    page.headers["X-Content-Type-Options"] = "nosniff"
    return page


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the OpenAPI document; no validator badge (it would call a public host)."""
    root = request.scope.get("root_path", "")
    return _page(
        get_swagger_ui_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the OpenAPI document, without web fonts."""
    root = request.scope.get("root_path", "")
    return _page(
        get_redoc_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
    )
