"""Statistics and pure decisions: drift, performance, fairness, importance and the policy.

Fitted on a reference and applied to current data, or deciding from numbers; no MLflow, GitHub
or file I/O here (an import-linter contract checks it), so everything is testable without
servers. Imports only ``config``, ``errors`` and each other.
"""
