"""``lexboard report``: one self-contained HTML file with the dashboard's widgets.

The same widget builders as the live dashboard (``server.widgets``), rendered once:
tiles and tables by Jinja2 with autoescaping, figures as JSON for plotly.js, which is
inlined (the dashboard's own bundle, ``server/static/plotly.min.js``) so the file works
offline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from lexboard import __version__
from lexboard.metrics import resolve_request, run_metric
from lexboard.metrics.request import MetricRequest, iso
from lexboard.owner import Server, call
from lexboard.server.widgets import SECTIONS, WIDGETS, Widget, cell_text, render, tile_text
from lexboard.store.db import Store

_env = Environment(
    loader=PackageLoader("lexboard.server", "templates"),
    autoescape=select_autoescape(["html"], default=True),
)
_STATIC = Path(__file__).parent / "server" / "static"


_env.filters["cell"] = cell_text


def _script_json(value: Any) -> Markup:
    """JSON safe inside a <script> element: no '<', '>' or '&' can close or open a tag."""
    text = json.dumps(value, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


PayloadSource = Callable[[Widget, MetricRequest], dict[str, Any]]


def from_store(store: Store) -> PayloadSource:
    return lambda widget, request: render(widget, run_metric(store, request))


def from_server(server: Server) -> PayloadSource:
    """Widgets as the server that owns the store computes them (same builders)."""

    def fetch(widget: Widget, request: MetricRequest) -> dict[str, Any]:
        echo = request.echo()
        query = {k: v for k, v in echo.items() if v is not None and k not in widget.params}
        payload: dict[str, Any] = call(server, f"/api/widgets/{widget.id}", query)
        return payload

    return fetch


def build_report(
    payloads: PayloadSource,
    start: str | None,
    end: str | None,
    tz: str,
    filters: dict[str, str | None],
) -> str:
    from lexboard.server.pages import plotly_js

    items = []
    first: MetricRequest | None = None
    for widget in WIDGETS:
        request = resolve_request(widget.metric, start, end, tz, filters, widget.params)
        first = first or request
        payload = payloads(widget, request)
        for tile in payload.get("tiles", []):
            tile["text"] = tile_text(tile["value"], tile["format"])
        items.append(
            {
                "widget": widget,
                "payload": payload,
                "figure_json": _script_json(payload["figure"]) if "figure" in payload else "",
            }
        )
    assert first is not None
    return _env.get_template("report.html").render(
        css=Markup((_STATIC / "dashboard.css").read_text()),
        plotly_js=Markup(plotly_js().read_text()),
        sections=SECTIONS,
        items=items,
        window_from=iso(first.start, first.zone),
        window_to=iso(first.end, first.zone),
        tz=first.tz,
        filters={k: v for k, v in filters.items() if v},
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        version=__version__,
    )
