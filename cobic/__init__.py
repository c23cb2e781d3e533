"""cobic: demand forecasting and capitated outcomes-based contracts for children's social care.

The data layer lives in :mod:`cobic.data` (SSDA903 and DfE readers, derived measures, the
synthetic data generator); schemas in :mod:`cobic.schemas`; unit costs in :mod:`cobic.costs`.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
