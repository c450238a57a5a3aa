"""The prediction API (``pipeline serve``): the champion behind FastAPI, hot-reloaded."""
