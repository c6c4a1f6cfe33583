"""A self-contained HTML report (issue 6): one file, no network.

:func:`render_report` turns a title, the exact command line, the versions that produced the
numbers and a list of :class:`Section` s (headings, paragraphs, tables of cells, PNG images)
into one HTML document: minimal inline CSS, no scripts, no external references; the images
are embedded as ``data:image/png;base64,...`` URIs.  The output is deterministic (no
timestamps): the same inputs give byte-identical text.

:func:`review_report` and :func:`compare_report` build the sections of ``pagealloc review``
and ``pagealloc compare`` from their data (:class:`pagealloc.experiments.review.Review`,
:class:`pagealloc.experiments.compare.Comparison`).
"""

from __future__ import annotations

import base64
import html
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence, Union

if TYPE_CHECKING:
    from pagealloc.experiments.compare import Comparison
    from pagealloc.experiments.review import Review

__all__ = ("Heading", "Paragraph", "Table", "Image", "Section", "render_report", "versions",
           "comparison_table", "review_report", "compare_report", "write_report")


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section (``level`` 3 to 6)."""

    text: str
    level: int = 3


@dataclass(frozen=True)
class Paragraph:
    text: str
    code: bool = False                          # render as preformatted text


@dataclass(frozen=True)
class Table:
    """Rows of cells under a header row; numbers are right-aligned."""

    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    caption: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG (its bytes), embedded as a data URI."""

    png: bytes
    alt: str
    caption: str = ""

    @classmethod
    def from_file(cls, path: str | Path, alt: str | None = None, caption: str = "") -> Image:
        p = Path(path)
        return cls(p.read_bytes(), alt if alt is not None else p.name, caption)


Block = Union[Heading, Paragraph, Table, Image]


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    id: str = ""


_CSS = """\
body{font-family:sans-serif;margin:2em auto;max-width:75em;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.3em;border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #bbb;padding:.2em .6em}th{background:#eee}
td.num{text-align:right;font-variant-numeric:tabular-nums}
caption{caption-side:top;text-align:left;font-weight:bold;padding:.3em 0}
pre,code{background:#f4f4f4}pre{padding:.5em;overflow-x:auto;white-space:pre-wrap}
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #ddd}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.meta dd{margin:0}
"""


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _is_number(c: object) -> bool:
    if isinstance(c, (int, float)) and not isinstance(c, bool):
        return True
    if isinstance(c, str):
        try:
            float(c)
        except ValueError:
            return False
        return True
    return False


def _block(b: Block) -> list[str]:
    if isinstance(b, Heading):
        lv = min(max(b.level, 3), 6)
        return [f"<h{lv}>{_e(b.text)}</h{lv}>"]
    if isinstance(b, Paragraph):
        return [f"<pre>{_e(b.text)}</pre>" if b.code else f"<p>{_e(b.text)}</p>"]
    if isinstance(b, Table):
        out = ["<table>"]
        if b.caption:
            out.append(f"<caption>{_e(b.caption)}</caption>")
        out.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in b.header) + "</tr></thead>")
        out.append("<tbody>")
        for row in b.rows:
            cells = []
            for i, c in enumerate(row):
                if i == 0:
                    cells.append(f"<th scope=\"row\">{_e(c)}</th>")
                elif _is_number(c):
                    cells.append(f"<td class=\"num\">{_e(c)}</td>")
                else:
                    cells.append(f"<td>{_e(c)}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out += ["</tbody>", "</table>"]
        return out
    data = base64.b64encode(b.png).decode("ascii")
    out = ["<figure>", f"<img alt=\"{_e(b.alt)}\" src=\"data:image/png;base64,{data}\">"]
    if b.caption:
        out.append(f"<figcaption>{_e(b.caption)}</figcaption>")
    out.append("</figure>")
    return out


def versions(profiles: Iterable[str] = ()) -> dict[str, str]:
    """pagealloc (package metadata), Python, and the profile names, in that order."""
    from importlib import metadata
    try:
        pv = metadata.version("pagealloc")
    except metadata.PackageNotFoundError:
        pv = "unknown (not installed)"
    out = {"pagealloc": pv, "Python": platform.python_version()}
    names = list(dict.fromkeys(profiles))
    if names:
        out["profiles"] = ", ".join(names)
    return out


def render_report(title: str, command: str, versions: Mapping[str, str],
                  sections: Sequence[Section]) -> str:
    """The whole report as one HTML document (see the module docstring)."""
    out = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
           "<meta name=\"generator\" content=\"pagealloc\">",
           f"<title>{_e(title)}</title>", f"<style>\n{_CSS}</style>", "</head>", "<body>",
           f"<h1>{_e(title)}</h1>", "<dl class=\"meta\">",
           f"<dt>command</dt><dd><code class=\"command\">{_e(command)}</code></dd>"]
    for k, v in versions.items():
        out.append(f"<dt>{_e(k)}</dt><dd class=\"version\">{_e(v)}</dd>")
    out.append("</dl>")
    for s in sections:
        out.append(f"<section id=\"{_e(s.id)}\">" if s.id else "<section>")
        out.append(f"<h2>{_e(s.title)}</h2>")
        for b in s.blocks:
            out += _block(b)
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def write_report(path: str | Path, title: str, command: str, versions: Mapping[str, str],
                 sections: Sequence[Section]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_report(title, command, versions, sections), encoding="utf-8")
    return p


# ------------------------------------------------------------------ review and compare

def comparison_table(cmp: Comparison, caption: str = "") -> Table:
    """A :class:`Table` of a comparison: a row per metric, a column per variant."""
    from pagealloc.experiments.compare import fmt
    return Table(["metric"] + list(cmp.labels),
                 [[r] + [fmt(c.get(r)) for c in cmp.columns] for r in cmp.rows], caption)


def review_report(rep: Review, command: str) -> str:
    """``review.html``: the answers, then each section's setup, tables, answer and notes."""
    from pagealloc.experiments.review import NOT_RUN
    from pagealloc.profiles import PROFILES
    size = "quick" if rep.quick else "full"
    answers = Table(["question", "answer"], [[s.title, s.answer] for s in rep.sections])
    secs = [Section("Answers", [Paragraph(
        "Each section: the setup, the tables (a column per variant; definitions of the rows "
        "in pagealloc/experiments/compare.py), and a one-line answer computed from the "
        "numbers."), answers], "answers")]
    for s in rep.sections:
        blocks: list[Block] = [Paragraph(f"Setup: {s.setup}")]
        for name, t in s.tables:
            blocks.append(comparison_table(t, name))
        blocks.append(Paragraph(f"Answer: {s.answer}"))
        blocks += [Paragraph(f"Note: {n}") for n in s.notes]
        secs.append(Section(s.title, blocks, s.id))
    secs.append(Section("Not run", [Table(["experiment", "why"], [[k, v] for k, v in NOT_RUN.items()])],
                        "not-run"))
    vers = versions(PROFILES)
    vers["profiles"] += " (built-in; the review's columns are these with knobs, named in each table)"
    return render_report(f"Review of __GFP_UNMAPPED v2 19/22, measured ({size} size)", command,
                         vers, secs)


def compare_report(cmp: Comparison, command: str, images: Sequence[str | Path] = ()) -> str:
    """``compare.html``: the header, the table, the notes and the plots (PNG files)."""
    head = f"{cmp.kind} {cmp.target}"
    if cmp.kind == "scenario":
        head += f", seed {cmp.seed}, scale {cmp.scale:g}"
    blocks: list[Block] = [Paragraph(f"Compared {head}.")]
    blocks += [Paragraph(f"{lb} = profile {p}") for lb, p in zip(cmp.labels, cmp.profiles) if lb != p]
    blocks.append(comparison_table(cmp))
    blocks += [Paragraph(n) for n in cmp.notes]
    secs = [Section("Table", blocks, "table")]
    if images:
        secs.append(Section("Plots", [Image.from_file(p, caption=Path(p).name) for p in images],
                            "plots"))
    return render_report(f"pagealloc compare {cmp.target}", command, versions(cmp.profiles), secs)
