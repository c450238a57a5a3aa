"""What people read: the drift issue and the promotion PR, model cards, history, operations.

Rendered from the steps' JSON results and MLflow's records only; ``publish`` sends them.
"""
