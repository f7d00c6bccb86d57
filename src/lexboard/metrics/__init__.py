"""The metric catalog (what each number means) and the runner (how it is computed)."""

from lexboard.metrics.catalog import CATALOG, Column, Metric, Param
from lexboard.metrics.request import MetricRequest, resolve_request
from lexboard.metrics.run import Result, run_metric

__all__ = [
    "CATALOG",
    "Column",
    "Metric",
    "MetricRequest",
    "Param",
    "Result",
    "resolve_request",
    "run_metric",
]
