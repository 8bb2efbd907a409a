"""The report in a real browser: Debian's headless Chromium (driven by playwright, which uses that browser and
downloads none) opens the file as a reader would, from file://. A screenshot is taken (a PNG of the page's whole
size, under the test's tmp folder), the figures the DOM holds equal the API's answers, the page asks for nothing
but itself, and the browser reports no error (a load the Content-Security-Policy refuses is one). The checks are
shown to catch a page that does load something.

Chromium must be installed (``make browser``, which ``make test`` runs, installs Debian's package): without it this
test fails, it does not skip. One browser serves the whole module.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kanal import stats_report
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.stats import Marked, check_figures, groups_of, read_page, seeds_views

pytestmark = pytest.mark.timeout(120)

WIDTH, HEIGHT = 1024, 768
MARKED = """() => Array.from(document.querySelectorAll('[data-figure]')).map(e => ({
    tag: e.tagName.toLowerCase(),
    attributes: Object.fromEntries(Array.from(e.attributes).filter(a => a.name.startsWith('data-'))
        .map(a => [a.name, a.value])),
    text: e.textContent,
    shown: e instanceof SVGElement || (e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().height > 0),
}))"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the whole module."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: `make browser` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


@dataclass
class Visit:
    """A page opened in the browser, and everything it asked for or complained of meanwhile."""

    page: Page
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def visit(browser: Browser, path: Path) -> Visit:
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
    page = context.new_page()
    seen = Visit(page)
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("requestfailed", lambda request: seen.failed.append(request.url))
    page.on("console", lambda message: seen.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.goto(path.as_uri(), wait_until="load")
    return seen


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height (its IHDR), after checking its signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_pixels(data: bytes) -> bytes:
    """The PNG's image data, inflated (its scanlines): enough to tell a blank image from a drawn one."""
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    return zlib.decompress(b"".join(chunks))


def written(tmp_path: Path, views: dict[str, Any], change: Any = None) -> Path:
    page = stats_report.render(views, generated_at=datetime(2024, 2, 16, 3, tzinfo=UTC), election_id="pemilu-2024")
    out = tmp_path / "report.html"
    out.write_text(change(page) if change else page, encoding="utf-8")
    return out


def test_the_report_loads_whole_in_chromium_with_the_apis_figures(browser: Browser, tmp_path: Path) -> None:
    views = seeds_views()
    path = written(tmp_path, views)
    seen = visit(browser, path)
    page = seen.page

    shot = page.screenshot(full_page=True, type="png")
    (tmp_path / "report.png").write_bytes(shot)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert png_size(shot) == (WIDTH, height)
    assert height > 2 * HEIGHT, "every section laid out, one under another"
    assert len(set(png_pixels(shot))) > 16, "drawn, not blank"
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, "nothing wider than the window"

    marked = page.evaluate(MARKED)
    assert [m for m in marked if not m.pop("shown")] == [], "every figure outside the charts takes room on screen"
    in_dom = [Marked(m["tag"], m["attributes"], m["text"]) for m in marked]
    seen_figures = check_figures(views, in_dom)
    assert groups_of(views) <= seen_figures
    assert len(in_dom) == len(read_page(path.read_text(encoding="utf-8")).marked), "the DOM is the file's"
    removed = page.locator('[data-view="policy"][data-policy="misinformation"][data-figure="removed"]')
    assert removed.inner_text() == "17.195"

    assert seen.requests == [path.as_uri()], "nothing asked for but the file itself"
    assert seen.failed == []
    assert seen.console == []
    assert seen.errors == []
    # its stylesheet applied (the policy's hash is right), its charts drawn with their titles
    assert page.evaluate("getComputedStyle(document.body).maxWidth") == "960px"
    charts = page.evaluate(
        "() => Array.from(document.querySelectorAll('svg')).map(s => [s.id, s.getBoundingClientRect().width,"
        " s.querySelector('title').textContent])"
    )
    assert [c[0] for c in charts] == ["trend-chart", "outcome-chart", "hours-chart"]
    assert all(width > 300 and title for _, width, title in charts)
    assert page.evaluate("document.documentElement.lang") == "id"
    seen.page.context.close()


def test_the_checks_see_a_page_that_loads_something(browser: Browser, tmp_path: Path) -> None:
    """What the test above looks at does show a load: refused by the policy (a console error) or, without the
    policy, asked for (a request that fails)."""
    image = '<img alt="" src="http://127.0.0.1:9/pixel.png"></body>'
    refused = visit(browser, written(tmp_path, seeds_views(), lambda page: page.replace("</body>", image)))
    assert [kind for kind, text in refused.console if "Content Security Policy" in text] == ["error"]
    assert refused.requests == [(tmp_path / "report.html").as_uri(), "http://127.0.0.1:9/pixel.png"]
    refused.page.context.close()

    def unguarded(page: str) -> str:
        policy = f'<meta http-equiv="Content-Security-Policy" content="{stats_report.content_security_policy()}">'
        return page.replace(policy, "").replace("</body>", image)

    loaded = visit(browser, written(tmp_path, seeds_views(), unguarded))
    assert "http://127.0.0.1:9/pixel.png" in loaded.requests
    assert loaded.failed == ["http://127.0.0.1:9/pixel.png"]
    loaded.page.context.close()
