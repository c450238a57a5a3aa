"""A dry run's issue, shown on the dashboard as GitHub renders it, and never running a column
name as HTML."""

from __future__ import annotations

from pipeline.reporting.markdown import to_html

ISSUE = """**Drift detected**: 1 of 2 features drifted (`Age`).

| feature | p-value | drifted |
| --- | ---: | :---: |
| Age | < 1e-16 | **yes** |

<details><summary>1 more feature, none drifted</summary>

| feature | p-value | drifted |
| --- | ---: | :---: |
| Income | 0.5 | no |

</details>

<!-- driftgate:drift-report model=attrition period=2026-10 -->
"""


def test_the_issue_reads_as_on_github_tables_folds_and_the_hidden_marker() -> None:
    page = to_html(ISSUE)
    verdict = "<p><strong>Drift detected</strong>: 1 of 2 features drifted (<code>Age</code>).</p>"
    assert verdict in page
    assert page.count("<table>") == 2
    assert '<td style="text-align:right">&lt; 1e-16</td>' in page
    assert "<details><summary>1 more feature, none drifted</summary>" in page
    assert page.rstrip().endswith("<!-- driftgate:drift-report model=attrition period=2026-10 -->")


def test_html_that_github_would_strip_is_shown_as_text() -> None:
    planted = (
        "| feature | drifted |\n| --- | --- |\n| <script>alert(1)</script> | yes |\n\n"
        '<img src=x onerror="alert(1)">\n\n'
        '<details open onclick="alert(1)"><summary>x</summary></details>\n\n'
        "[a link](javascript:alert(1))\n"
    )
    page = to_html(planted)
    assert "<script" not in page and "<img" not in page and "<details open" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript' not in page
