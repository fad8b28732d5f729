"""The reporting layer every report shares: the page, figures embedded in it, Markdown and HTML tables.

The campaign report, the PR-Bench and training leaderboards and the reliability report each need the same
things; they take them from here instead of from each other's private helpers (issue 28), and all four pages
are one skeleton with one style sheet (:func:`html_document`). matplotlib is switched to its headless Agg backend
here, once, before pyplot is imported: reports are drawn on machines without a display, and a report module
no longer sets the backend as a side effect of being imported.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["figure_data_url", "hardware_line", "html_document", "html_table", "markdown_table", "plt"]

#: The style sheet of every report. A page is at most 1180 px wide plus its margins, so it fits a 1280 px window
#: without a horizontal scroll bar. A wide table (the training leaderboard has 20 columns) wraps its cells at spaces,
#: its headers also after "(" and "@" (:func:`html_table`), a text cell also inside a word too long for any line;
#: what still does not fit scrolls inside the table's own box, not the page.
_STYLE = """body{font:15px/1.45 system-ui,sans-serif;color:#222;max-width:1180px;margin:0 auto;padding:1.5em 2em}
h1{font-size:1.7em;margin:.4em 0}h2{font-size:1.25em;margin:1.6em 0 .4em}img{max-width:100%}
.table{overflow-x:auto;margin:.5em 0}table{border-collapse:collapse;font-size:.87em}
td,th{border-bottom:1px solid #ddd;padding:.25em .45em;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f5f5f5;font-weight:600}.num{text-align:right;overflow-wrap:normal;font-variant-numeric:tabular-nums}
.num span{white-space:nowrap}
code{background:#f4f4f4;padding:0 .2em}pre{white-space:pre-wrap;background:#fafafa;padding:.5em}
.big{font-size:1.6em;margin:.2em 0}.big span{font-size:.55em;color:#555}"""

#: A cell that starts with a number (``0.12``, ``-3e-05``, ``1,000``, ``85.0 ± 1.2``, ``0/20``, ``inf``) ...
_NUMBER = re.compile(r"[-+]?(\d|\.\d|inf\b|nan\b)")
#: ... or holds no value (the leaderboards' "-", unsupported "x", failed "!") leaves a column numeric.
_NO_VALUE = frozenset({"", "-", "x", "!"})
#: Where a header may break besides spaces, after a "(" or "@" inside a word: "ProbAcc(0.05) %" is then no wider
#: than its column's numbers.
_HEADER_BREAK = re.compile(r"(?<=\S)([(@])")


def html_document(title: str, body: str, *, style: str = "") -> str:
    """A self-contained HTML page: the one skeleton and style sheet of every report.

    Parameters
    ----------
    title
        The window title, plain text (escaped here).
    body
        The page's content, HTML.
    style
        CSS of this report only (the reliability report's argument shapes), after the shared style sheet.

    Returns
    -------
    str
        The page, starting with ``<!doctype html>``.
    """
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}{style}</style></head><body>\n{body}\n</body></html>")


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


def _numeric(column: Sequence[str]) -> bool:
    """Whether a column holds numbers: every cell starts with one or holds no value, and one cell is a number."""
    first = [cell.split(" ", 1)[0] for cell in column]
    return any(_NUMBER.match(c) for c in first) and all(_NUMBER.match(c) or c in _NO_VALUE for c in first)


def _unbroken(cell: str) -> str:
    """An escaped numeric cell whose numbers stay whole: a line may break after any "-", so "8.44e-06" is kept in a
    nowrap span (the cell still breaks at its spaces)."""
    return " ".join(f"<span>{token}</span>" if "-" in token else token for token in cell.split(" "))


def html_table(headers: Sequence[str], body: Sequence[Sequence[str]], *, markup: bool = False) -> str:
    """An HTML table in a box that scrolls sideways when the table is wider than the page; numbers right-aligned.

    Parameters
    ----------
    headers
        Column titles, plain text; none for a table of name / value rows.
    body
        Rows of cells, plain text (escaped here) unless ``markup``.
    markup
        The cells are HTML the caller built (bold, entities) with any outside text already escaped.

    Returns
    -------
    str
        ``<div class="table"><table>...</table></div>``.
    """
    columns = len(headers) or max(map(len, body), default=0)
    numeric = [_numeric([row[k] for row in body if k < len(row)]) for k in range(columns)]

    def cells(tag: str, row: Sequence[str]) -> str:
        return "".join(f'<{tag}{" class=num" if numeric[k] else ""}>{c}</{tag}>' for k, c in enumerate(row))

    def text(k: int, cell: str) -> str:
        if markup:
            return cell
        return _unbroken(html.escape(cell)) if numeric[k] else html.escape(cell)

    titles = [_HEADER_BREAK.sub(r"\1<wbr>", html.escape(h)) for h in headers]
    head = f"<tr>{cells('th', titles)}</tr>" if headers else ""
    rows = "".join(f"<tr>{cells('td', [text(k, c) for k, c in enumerate(row)])}</tr>" for row in body)
    return f'<div class="table"><table>{head}{rows}</table></div>'


def hardware_line(config: Mapping[str, Any]) -> str:
    """What a run's times were measured on, in one line (the comparability rule of docs/pr-bench.md).

    Parameters
    ----------
    config
        A bench run's configuration: its ``hardware`` record (:func:`probust.hardware.hardware`) and, when known,
        ``cell_hardware``, the ids of the machines its cells were timed on (cells are shared between runs).

    Returns
    -------
    str
        CPU, cores, torch and its threads, Python and platform; a warning when the cells come from several machines.
    """
    hw = config["hardware"]
    line = (f"{hw['processor']}, {hw['cpu_count']} cores, torch {hw['torch']} with {hw['torch_threads']} "
            f"thread(s) per process, Python {hw['python']}, {hw['platform']}")
    machines = len(config.get("cell_hardware", []))
    if machines > 1:
        line += f" (warning: cells were timed on {machines} different machines; times are not comparable)"
    return line
