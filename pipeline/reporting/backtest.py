"""The backtest as people read it: the policies side by side, and their metric over time."""

from __future__ import annotations

from typing import Any

from pipeline.reporting.report import xychart

_COLUMNS = (
    ("retrains", "retrains", "d"),
    ("promotions", "promotions", "d"),
    ("mean_metric", "mean ROC AUC", ".4f"),
    ("worst_metric", "worst ROC AUC", ".4f"),
    ("months_below_gate", "months below gate", "d"),
    ("false_alarms", "false alarms", "d"),
    ("recoveries", "months to recover", "recovery"),
    ("missed_degradations", "missed degradations", "d"),
    ("bad_promotions", "bad promotions", "d"),
)


def recovery_cell(recoveries: list[int | None], recovering: int = 0) -> str:
    """Each degradation's months to recover, in order: ``4``, ``4, 5``, ``never``, ``-``.

    The last ``recovering`` unrecovered ones began too recently to judge: ``not yet``.
    """
    if not recoveries:
        return "-"
    cells = ["never" if r is None else str(r) for r in recoveries]
    for index in range(len(cells) - recovering, len(cells)):
        cells[index] = "not yet"
    return ", ".join(cells)


def render_backtest(result: dict[str, Any]) -> str:
    """``backtest.md`` from ``backtest.json``'s content."""
    policies: dict[str, dict[str, Any]] = result["policies"]
    default = result["default_policy"]
    header = "| policy | " + " | ".join(title for _, title, _ in _COLUMNS) + " |"
    lines = [
        f"## Backtest: {result['model']}, {result['source']}",
        "",
        f"{result['replayed_months']} months replayed, labels {result['label_delay_months']} "
        f"month(s) late; the realized ROC AUC of the model each policy served, known in "
        f"hindsight. `{default}` is the policy the monthly cycle runs. A degradation begins in "
        "a month whose labels show the serving model more than `max_metric_drop` below its own "
        "test ROC AUC; it is recovered in the first month served by a model back within "
        "`max_metric_drop` of the best policy. Missed: not recovered within "
        f"{result['label_delay_months'] + 2} months. A bad promotion did worse in the months "
        "after it than the model it replaced.",
        "",
        header,
        "| --- |" + " ---: |" * len(_COLUMNS),
    ]
    for name, summary in policies.items():
        cells = [
            (
                recovery_cell(summary[key], summary.get("recovering", 0))
                if spec == "recovery"
                else "-" if summary[key] is None else format(summary[key], spec)
            )
            for key, _, spec in _COLUMNS
        ]
        label = f"**{name}**" if name == default else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    months = result["months"]
    series = [("line", [m["policies"][name]["metric"] or 0.0 for m in months]) for name in policies]
    chart = xychart(
        "Realized ROC AUC per month: " + ", ".join(policies),
        "ROC AUC",
        [m["period"] for m in months],
        series,
        top=1,
    )
    return "\n".join(lines) + "\n\n" + chart + "\n"
