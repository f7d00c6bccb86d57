// Builds the dashboard's plotly.js: the plotly.js release pinned in package.json, with
// only the trace types lexboard's figures use (TRACES), the way plotly.js's own
// "custom bundle" does (core + Plotly.register). The full bundle is 4.8 MB and costs a
// new browser about 1.5 s of parsing and start-up on a 2-core machine; this one is 1.4 MB.
//
//   cd tools/plotly && npm ci && npm run build     (or: make plotly-bundle)
//
// tests/test_plotly_bundle.py checks that every trace type a widget draws is in TRACES
// and that the committed bundle was built from this list.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

export const TRACES = ["scatter", "bar", "pie", "heatmap", "sankey"];

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const full = readFileSync(here("node_modules/plotly.js/dist/plotly.min.js"), "utf8");
const license = full.slice(0, full.indexOf("*/") + 2); // "/**\n* plotly.js vX ... MIT license\n*/"
const entry = [
  "var Plotly = require('plotly.js/lib/core');",
  `Plotly.register([${TRACES.filter((t) => t !== "scatter")
    .map((t) => `require('plotly.js/lib/${t}')`)
    .join(", ")}]);`,
  "module.exports = Plotly;",
].join("\n");

await esbuild.build({
  stdin: { contents: entry, resolveDir: here("."), loader: "js" },
  outfile: here("../../src/lexboard/server/static/plotly.min.js"),
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "Plotly",
  target: "es2016",
  // as plotly.js's own esbuild-config.js
  alias: { regl: "@plotly/regl", stream: "stream-browserify" },
  define: { global: "window", "define.amd": "false" },
  // the only CSS import is maplibre's, for map traces, which are not in this bundle
  loader: { ".css": "empty" },
  banner: {
    // plotly.js's own licence header, and what this bundle holds
    js: `${license.replace(/\s*\*\/$/, "")}\n* lexboard's bundle: traces ${TRACES.join(",")}; built by tools/plotly/build.mjs\n*/`,
  },
  logLevel: "info",
});
