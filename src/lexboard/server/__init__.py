"""The HTTP surface: JSON/CSV API, dashboard pages, Prometheus metrics (all thin)."""
