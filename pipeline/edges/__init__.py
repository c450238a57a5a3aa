"""The edges that do I/O with the world outside the repository.

MLflow (``registry``), GitHub (``github``), chat webhooks (``alerts``) and the prediction-log
database (``predlog``). Never imports the steps or the orchestrator above them.
"""
