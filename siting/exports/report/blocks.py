"""The report's document model and its two renderings: a list of blocks (headings, paragraphs,
bullet lists, tables of formatted strings, figures) written as GitHub-flavoured Markdown and as one
self-contained HTML page; and how numbers are written in them (:func:`num`, :func:`score` …).

:mod:`siting.exports.report.document` builds a run's blocks; the what-if comparison
(:mod:`siting.whatif.compare`) builds its own. Both render them here, so the HTML and the Markdown
always say the same thing.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field

FIGURES_DIR = "report_files"


# --- blocks ------------------------------------------------------------------------------------


@dataclass
class Link:
    """A relative link (never an external URL)."""

    text: str
    href: str


@dataclass
class Code:
    """Inline code: names of keys, layers, files."""

    text: str


Inline = str | Code | Link


@dataclass
class Heading:
    """A heading of ``level`` 1–3; ``anchor`` is its HTML id (level-2 headings make the page's
    table of contents)."""

    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    """A paragraph of text, code and links."""

    parts: list[Inline]
    css: str = ""  # an HTML class


@dataclass
class Bullets:
    """A bullet list, one list of inline parts per item."""

    items: list[list[Inline]]


@dataclass
class Table:
    """A table of formatted strings (numbers are formatted where the table is made)."""

    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)  # right-align these columns


@dataclass
class Figure:
    """A PNG figure: ``make`` draws it, ``data`` holds it once drawn."""

    name: str  # file name in report_files/
    alt: str
    caption: str
    make: Callable[[], bytes]
    data: bytes = b""
    # What the figure is drawn from: when given, its PNG is cached under these inputs' key.
    inputs: tuple = ()


Block = Heading | Para | Bullets | Table | Figure


# --- formatting: numbers as the tables show them ---------------------------------------------


def num(value: float | None, digits: int = 3) -> str:
    """A readable number: integers with thousands separators, otherwise ``digits`` significant
    figures (large values rounded to units)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    if v == round(v) and abs(v) < 1e15:
        return f"{v:,.0f}"
    if abs(v) >= 10 ** (digits - 1):
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def score(value: float | None) -> str:
    """A score, weight or contribution in [0, 1]: three decimals ("–" for none)."""
    return "–" if value is None else f"{value:.3f}"


def pct(share: float) -> str:
    """A share as a percentage without float noise (0.1 → ``10``)."""
    return f"{round(100 * share, 6):g}"


def gap(value: float) -> str:
    """A proven relative optimality gap as a percentage (``0.00%``), or that none was proven."""
    if value is None or not math.isfinite(value):
        return "not proven"
    return f"{value:.2%}"


def km(metres: float) -> str:
    """A distance in m as km with one decimal (``4,594`` → ``4.6``)."""
    return f"{metres / 1000:,.1f}" if math.isfinite(metres) else "–"


# --- rendering ---------------------------------------------------------------------------------


def _md_text(text: str) -> str:
    """Plain text for Markdown: no accidental HTML tag."""
    return text.replace("<", "&lt;")


def _md_inline(parts: list[Inline]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Code):
            out.append(f"`{part.text}`")
        elif isinstance(part, Link):
            out.append(f"[{_md_text(part.text)}]({part.href})")
        else:
            out.append(_md_text(part))
    return "".join(out)


def _md_cell(text: str) -> str:
    return _md_text(text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " "))


def markdown(blocks: list[Block]) -> str:
    """GitHub-flavoured Markdown; figures as ``report_files/<name>.png``."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(_md_inline(b.parts))
        elif isinstance(b, Bullets):
            out.append("\n".join("- " + _md_inline(item) for item in b.items))
        elif isinstance(b, Table):
            align = [
                "---:" if k < len(b.numeric) and b.numeric[k] else "---"
                for k in range(len(b.columns))
            ]
            lines = ["| " + " | ".join(_md_cell(c) for c in b.columns) + " |"]
            lines.append("|" + "|".join(align) + "|")
            lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif isinstance(b, Figure):
            alt = b.alt.replace("[", "(").replace("]", ")")
            out.append(f"![{alt}]({FIGURES_DIR}/{b.name})\n\n*{b.caption}*")
        out.append("")
    return "\n".join(out)


CSS = """
:root { --ink: #1f2328; --muted: #59636e; --rule: #d1d9e0; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
  max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 1.7em; margin: 0.2em 0 0.4em; }
h2 { font-size: 1.35em; border-bottom: 1px solid var(--rule); padding-bottom: 0.2em;
  margin-top: 2em; }
h3 { font-size: 1.1em; margin-top: 1.5em; }
p.meta { color: var(--muted); }
p.warning { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 6px 10px; }
nav { background: var(--band); border: 1px solid var(--rule); border-radius: 6px;
  padding: 8px 14px; font-size: 0.92em; }
nav a { margin-right: 1em; white-space: nowrap; }
a { color: #0969da; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--band); padding: 0.1em 0.3em; border-radius: 4px; }
.scroll { overflow-x: auto; margin: 0.6em 0 1em; }
table { border-collapse: collapse; font-size: 0.86em; }
th, td { border: 1px solid var(--rule); padding: 3px 8px; vertical-align: top; }
th { background: var(--band); text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfcfd; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: 0.9em; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  nav { display: none; }
  h1 + p, h2, h3 { break-after: avoid; }
  figure, tr { break-inside: avoid; }
  .scroll { overflow: visible; }
  a { color: inherit; }
}
"""


def _html_inline(parts: list[Inline]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Code):
            out.append(f"<code>{html.escape(part.text)}</code>")
        elif isinstance(part, Link):
            out.append(f'<a href="{html.escape(part.href)}">{html.escape(part.text)}</a>')
        else:
            out.append(html.escape(part))
    return "".join(out)


def to_html(blocks: list[Block], title: str) -> str:
    """One self-contained HTML page: inline CSS, figures as base64 PNG, no external URL."""
    e = html.escape
    toc = [b for b in blocks if isinstance(b, Heading) and b.level == 2]
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            anchor = f' id="{e(b.anchor)}"' if b.anchor else ""
            body.append(f"<h{b.level}{anchor}>{e(b.text)}</h{b.level}>")
            if b.level == 1 and toc:
                links = " ".join(f'<a href="#{e(h.anchor)}">{e(h.text)}</a>' for h in toc)
                body.append(f"<nav>{links}</nav>")
        elif isinstance(b, Para):
            css = f' class="{e(b.css)}"' if b.css else ""
            body.append(f"<p{css}>{_html_inline(b.parts)}</p>")
        elif isinstance(b, Bullets):
            items = "".join(f"<li>{_html_inline(i)}</li>" for i in b.items)
            body.append(f"<ul>{items}</ul>")
        elif isinstance(b, Table):
            numeric = b.numeric + [False] * (len(b.columns) - len(b.numeric))
            head = "".join(f"<th>{e(c)}</th>" for c in b.columns)
            rows = "".join(
                "<tr>"
                + "".join(
                    f'<td class="n">{e(v)}</td>' if n else f"<td>{e(v)}</td>"
                    for v, n in zip(row, numeric, strict=False)
                )
                + "</tr>"
                for row in b.rows
            )
            body.append(
                f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                f"<tbody>{rows}</tbody></table></div>"
            )
        elif isinstance(b, Figure):
            data = base64.b64encode(b.data).decode("ascii")
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{e(b.alt)}">'
                f"<figcaption>{e(b.caption)}</figcaption></figure>"
            )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
