"""Demand models: one interface (fit, simulate), a registry, scenarios and backtests."""

from cobic.demand.base import (
           FORECAST_COLUMNS,
           PATHS_COLUMNS,
           Paths,
           SeriesHistory,
           get_model,
           model_names,
)

__all__ = ["FORECAST_COLUMNS", "PATHS_COLUMNS", "Paths", "SeriesHistory", "get_model",
           "model_names"]
