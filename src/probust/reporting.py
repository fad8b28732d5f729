"""The reporting layer every report shares: figures embedded in the page, Markdown and HTML tables.

The campaign report, the PR-Bench and training leaderboards and the reliability report each need the same
three things; they take them from here instead of from each other's private helpers (issue 28). matplotlib is
switched to its headless Agg backend here, once, before pyplot is imported: reports are drawn on machines
without a display, and a report module no longer sets the backend as a side effect of being imported.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["figure_data_url", "html_table", "markdown_table", "plt"]


def figure_data_url(fig: plt.Figure) -> str:
    """The figure as a base64 PNG data URL (the page stays one self-contained file); the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def markdown_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table (a bare | inside a cell, as in |log10 err|, is escaped so it does not split it)."""
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([row(headers), "|" + "---|" * len(headers), *map(row, body)])


def html_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """An HTML table of escaped text cells."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><tr>{head}</tr>{rows}</table>"
