"""Interactive API docs at ``/docs``: Swagger UI, its assets served from the swagger-ui-py
package (nothing is fetched from the internet when the page loads)."""

from __future__ import annotations

import functools
import importlib.util
import mimetypes
from pathlib import Path

from .problems import ApiError, not_found

ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "index.css", "favicon-32x32.png")

# Paths are relative to the page (<base>/docs), so it works behind any function URL.
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script>
    // The committed document names no server: the API is wherever this page is.
    const base = new URL(".", window.location.href).href.replace(/\\/$/, "");
    fetch(base + "/openapi.json").then((r) => r.json()).then((spec) => {{
      spec.servers = [{{ url: base }}];
      window.ui = SwaggerUIBundle({{ spec, dom_id: "#swagger-ui", persistAuthorization: true }});
    }});
  </script>
</body>
</html>
"""


def page(title: str) -> bytes:
    return PAGE.format(title=title).encode()


@functools.cache
def _static_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")  # locate it without importing its web glue
    if spec is None or not spec.submodule_search_locations:
        raise ApiError(
            503,
            "the docs need the swagger-ui-py package: add it to functions/requirements.txt",
            "docs-unavailable",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def asset(name: str) -> tuple[bytes, str]:
    """One Swagger UI file and its content type; 404 for anything but ``ASSETS``."""
    if name not in ASSETS:
        raise not_found(f"no docs asset {name!r}")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return (_static_dir() / name).read_bytes(), content_type
