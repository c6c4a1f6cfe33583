"""The self-contained HTML report (pagealloc/report/html.py): structure without a browser, the
``review --out`` and ``compare --out`` reports, and a render in headless Chromium (Debian's
``chromium``, installed by ``.ci/run`` when it can; the browser test skips without it)."""
from __future__ import annotations

import platform
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pagealloc.cli import main
from pagealloc.report.html import (
    Heading,
    Image,
    Paragraph,
    Section,
    Table,
    render_report,
    versions,
)

CHROMIUM = Path("/usr/bin/chromium")


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """A valid RGB PNG, no dependencies."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Parsed(HTMLParser):
    """Tags, table cells, image sources and every URL-bearing attribute of a document."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.imgs: list[str] = []
        self.urls: list[str] = []
        self.title = ""
        self._cell: list[str] | None = None
        self._in_title = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        if tag in ("td", "th"):
            self._cell = []
        if tag == "title":
            self._in_title = True
        if tag == "img":
            self.imgs.append(a.get("src") or "")
        for k in ("href", "src", "action", "data"):
            if a.get(k):
                self.urls.append(a[k] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_title:
            self.title += data


def sample_report() -> str:
    return render_report(
        "small <report>", "pagealloc compare secretmem --profiles a,b --out 'x y'",
        versions(["linux-7.2", "unmapped-v2"]),
        [Section("Table", [Paragraph("one paragraph & more"), Heading("sub"),
                           Table(["metric", "linux-7.2", "unmapped-v2"],
                                 [["flips_to_unmapped", 0, 12], ["cost_total_us", "1.5", "n/a"]],
                                 "caption <1>")], "table"),
         Section("Plots", [Image(tiny_png(3, 2), "three", "three.png"),
                           Image(tiny_png(5, 4), "five"), Paragraph("a b\n  c", code=True)])])


def assert_self_contained(text: str, p: Parsed) -> None:
    assert "http://" not in text and "https://" not in text
    assert not [u for u in p.urls if "//" in u and not u.startswith("data:")]
    assert p.imgs and all(s.startswith("data:image/png;base64,") for s in p.imgs)
    assert all(u.startswith("data:") or u.startswith("#") for u in p.urls)
    assert "<link" not in text and "<script" not in text


def test_render_report_structure_without_a_browser() -> None:
    text = sample_report()
    assert text == sample_report()                  # deterministic: no timestamps
    p = Parsed(text)
    assert text.startswith("<!DOCTYPE html>") and p.title == "small <report>"
    for tag in ("html", "head", "style", "body", "h1", "h2", "h3", "table", "caption", "thead",
                "tbody", "img", "figure", "pre", "code"):
        assert tag in p.tags, tag
    assert p.tags.count("table") == 1 and p.tags.count("img") == 2
    for cell in ("metric", "linux-7.2", "unmapped-v2", "flips_to_unmapped", "0", "12", "1.5", "n/a"):
        assert cell in p.cells, cell
    assert_self_contained(text, p)
    import base64
    assert base64.b64decode(p.imgs[0].split(",", 1)[1]) == tiny_png(3, 2)
    # the command and the versions, escaped
    assert "pagealloc compare secretmem --profiles a,b --out &#x27;x y&#x27;" in text
    assert "linux-7.2, unmapped-v2" in text and platform.python_version() in text
    assert "caption &lt;1&gt;" in text and "one paragraph &amp; more" in text
    v = versions()
    assert list(v) == ["pagealloc", "Python"] and v["pagealloc"]


@pytest.fixture(scope="module")
def compare_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("compare")
    rc = main(["compare", "secretmem", "--profiles", "unmapped-v2,per-folio-zap", "--scale", "0.03125",
               "--seed", "3", "--out", str(d / "out"), "--plots", str(d / "plots")])
    assert rc == 0
    return d


def test_compare_out_writes_compare_html_with_table_and_plots(compare_out: Path) -> None:
    text = (compare_out / "out" / "compare.html").read_text()
    p = Parsed(text)
    assert_self_contained(text, p)
    assert len(p.imgs) == len(list((compare_out / "plots").glob("*.png"))) == 6
    assert "flips_to_unmapped" in p.cells and "per-folio-zap" in p.cells
    csv_head = (compare_out / "out" / "compare.csv").read_text().splitlines()[1].split(",")
    assert csv_head[0] in p.cells
    assert (f"pagealloc compare secretmem --profiles unmapped-v2,per-folio-zap --scale 0.03125 "
            f"--seed 3 --out {compare_out / 'out'} --plots {compare_out / 'plots'}") in text
    assert "unmapped-v2, per-folio-zap" in text


def test_compare_without_plots_and_review_out_write_html(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "secretmem", "--profiles", "linux-7.2,unmapped-v2", "--scale", "0.03125",
                 "--out", str(tmp_path / "c")]) == 0
    text = (tmp_path / "c" / "compare.html").read_text()
    p = Parsed(text)
    assert not p.imgs and "flips_to_unmapped" in p.cells and "<script" not in text
    assert main(["review", "--quick", "--only", "q4,e9", "--out", str(tmp_path / "r")]) == 0
    out, _ = capsys.readouterr()
    text = (tmp_path / "r" / "review.html").read_text()
    p = Parsed(text)
    assert "http://" not in text and "https://" not in text and not p.imgs
    assert "Q4: expand() instead of the per-order __free_one_page() loop" in p.cells
    assert "final_free_lists_identical" in p.cells and "E15" in p.cells
    for line in out.splitlines():                   # every answer of review.md is in the HTML
        if line.startswith("**Answer:** "):
            assert line.removeprefix("**Answer:** ").replace("&", "&amp;").replace("<", "&lt;") \
                .replace(">", "&gt;").replace("'", "&#x27;").replace('"', "&quot;") in text
    assert f"pagealloc review --quick --only q4,e9 --out {tmp_path / 'r'}" in text


# --------------------------------------------------------------------- headless Chromium

PROBE = ("<script>window.addEventListener('load',function(){document.body.setAttribute("
         "'data-img-widths',Array.from(document.images).map(function(i){return i.complete?"
         "i.naturalWidth:0}).join(','))})</script>")


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-quic", "--no-first-run", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                           f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium not installed (Debian's "
                    "chromium; .ci/run installs it when it can)")
def test_report_renders_in_headless_chromium(compare_out: Path, tmp_path: Path) -> None:
    text = (compare_out / "out" / "compare.html").read_text()
    n_imgs = Parsed(text).tags.count("img")
    assert text.count("</body>") == 1
    page = tmp_path / "report.html"                 # the report plus a probe of image widths
    page.write_text(text.replace("</body>", PROBE + "</body>"))
    r = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile1")
    assert r.returncode == 0, r.stderr[-2000:]
    dom = Parsed(r.stdout)
    assert "flips_to_unmapped" in dom.cells and "per-folio-zap" in dom.cells
    assert dom.tags.count("img") == n_imgs == 6
    marker = 'data-img-widths="'
    assert marker in r.stdout, r.stdout[:500]
    widths = [int(w) for w in r.stdout.split(marker, 1)[1].split('"', 1)[0].split(",")]
    assert len(widths) == n_imgs and all(w > 0 for w in widths), widths
    shot = tmp_path / "shot.png"
    r = chromium(f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri(),
                 profile=tmp_path / "profile2")
    assert r.returncode == 0, r.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 0
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
