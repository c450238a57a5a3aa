"""One module per command of the monthly cycle: the body of `pipeline <command>`.

Each step reads its inputs from files or MLflow, calls the layers below, writes one JSON
result and returns it. ``pipeline.cycle`` runs them in the workflow's order; the CLI runs one.
"""
