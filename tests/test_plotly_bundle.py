"""The dashboard's plotly.js: the bundle tools/plotly builds, committed as it was built."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lexboard.server.pages import plotly_js

TOOLS = Path(__file__).parents[1] / "tools" / "plotly"


def bundle_traces() -> list[str]:
    """The trace types tools/plotly/build.mjs puts in the bundle."""
    found = re.search(r"export const TRACES = (\[[^\]]*\]);", (TOOLS / "build.mjs").read_text())
    assert found, "tools/plotly/build.mjs no longer declares TRACES"
    return list(json.loads(found.group(1)))


def test_the_shipped_bundle_was_built_from_the_pinned_release_and_trace_list() -> None:
    package = json.loads((TOOLS / "package.json").read_text())
    lock = json.loads((TOOLS / "package-lock.json").read_text())
    version = package["devDependencies"]["plotly.js"]
    assert lock["packages"]["node_modules/plotly.js"]["version"] == version
    head = plotly_js().read_text(encoding="utf-8")[:1000]
    assert f"* plotly.js v{version}\n" in head  # rebuilt after the pin moved
    assert f"traces {','.join(bundle_traces())};" in head  # rebuilt after TRACES changed
    assert "Licensed under the MIT license" in head


def test_the_bundle_is_served_where_the_page_asks_for_it() -> None:
    template = (plotly_js().parents[1] / "templates" / "dashboard.html").read_text()
    assert 'src="{{ static }}/plotly.min.js' in template
    assert plotly_js().name == "plotly.min.js"
