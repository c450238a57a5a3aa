"""The model itself: the batch schema, batch files, synthetic data, training and scoring.

Builds on ``monitoring`` (a trained model is tested with its metrics, fairness and importance);
knows nothing of MLflow, GitHub or the monthly cycle.
"""
