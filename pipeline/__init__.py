"""Driftgate: batch prediction, drift detection, retraining and promotion as a GitOps pipeline."""

__version__ = "0.1.0"
