"""Accessibility and phone layout, in Chromium against a real `cfkb serve` (issue 20).

axe-core (vendored under tests/vendor/axe-core, never fetched at test time)
checks every page against WCAG 2.1 A and AA and axe's best practices, at
1400 px and at 390 px (a phone). At 390 px nothing may stick out past the
screen's edge: the page does not scroll sideways, and no element outside a
scrolling box (a wide table, the graph) reaches past the viewport.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cfkb.store.core import KnowledgeBase
from conftest import CHROMIUM, ServerProcess, seeded_copy

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
HOQUQ_CONFLICT = "9755e317886eab57"
KH_CONFLICT = "6b0f4e42b49ebf7b"
LONG_WORD = "https://example.org/" + "a-very-long-path-segment-without-any-space" * 8
ARABIC_QUOTE = "لن تشارك حركة حقوق في الانتخابات"

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests skipped",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

#: A claim whose quote is one unbroken word longer than a phone is wide, and one in Arabic that
#: conflicts with Al-Rabaa TV's.
CLAIMS = f"""
- subject: Hoquq
  predicate: participatesIn
  object: December 2023 provincial elections
  negated: true
  election: December 2023 provincial elections
  speaker: Test Speaker
  source: Test Outlet
  date: 2023-08-30
  quote: "{ARABIC_QUOTE}"
  quote_lang: ar
  reliability: C
  credibility: 3
  tlp: CLEAR
- subject: Badr Organization
  predicate: runsAs
  object: Tahalof Nabni
  area: Diyala
  election: December 2023 provincial elections
  speaker: Test Speaker
  source: Test Outlet
  date: 2023-09-01
  quote: "{LONG_WORD}"
  quote_lang: en
"""

#: Every kind of page, with what makes it differ: an error, a result table, an empty search.
PAGES = [
    "/",
    "/?status=disputed",
    "/?view=compact",
    "/?entity=cfid:harakat-hoquq&source=cfid:al-rabaa-tv",
    f"/conflicts/{KH_CONFLICT}",
    "/claims/c70ba3a45cd0ed8f7068215c",
    "/entity/harakat-hoquq",
    "/entity/tahalof-nabni",
    "/source/al-rabaa-tv",
    "/source/test-outlet",
    "/sources",
    "/entities",
    "/entities?type=Party",
    "/sources?sort=last&order=asc",
    "/graph",
    "/graph?area=diyala",
    "/chart",
    "/chart?entity=cfid:kirkuk",
    "/search?q=Tahalof",
    "/search?q=zzqqxx",
    "/query",
    "/query?name=claims_about",
    "/query?name=claims_about&p.entity=Hoquq&run=1",
    "/query?name=claims_as_of&p.asOf=2024-01-01&run=1",
    "/query?q=SELECT+%3Fx+WHERE+%7B+%3Fx+%3Fy",
    "/query?q=CONSTRUCT+WHERE+%7B+cfid%3Aharakat-hoquq+%3Fp+%3Fo+%7D",
    "/sparql",
    "/no/such/page",
]
WIDTHS = [1400, 390]

#: Elements reaching past the right edge of the screen or of their parent's box (a card spilling out
#: of its frame), outside any box that scrolls or clips.
SPILLS = """() => {
  const out = [];
  const limit = document.documentElement.clientWidth + 1;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o !== "visible") return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    let parent = el.parentElement;  // the box it sits in: the nearest ancestor that is not inline
    while (parent && parent !== document.body && getComputedStyle(parent).display.startsWith("inline")) {
      parent = parent.parentElement;
    }
    const outer = parent && parent !== document.body ? parent.getBoundingClientRect().right + 1 : limit;
    if (r.width && (r.right > limit || r.right > outer) && !clipped(el) && !el.closest(".skip")) {
      out.push(el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined ? "." + el.className : "")
               + " right=" + Math.round(r.right));
    }
  }
  return out.slice(0, 10);
}"""


@pytest.fixture(scope="module")
def server(seed_template, tmp_path_factory):
    path = seeded_copy(seed_template, tmp_path_factory.mktemp("a11y") / "kb.store", "test.yaml", CLAIMS)
    from cfkb.workflow.decisions import flag

    with KnowledgeBase.open(path, write=True) as kb:
        # every status shows on some page: open, disputed, dismissed
        flag(kb, HOQUQ_CONFLICT, status="disputed", analyst="tester", reason="two sources disagree")
        flag(kb, KH_CONFLICT, status="dismissed", analyst="tester", reason="not a real conflict")
    with ServerProcess(path, "--writable", "--workers", "2") as s:
        yield s



@pytest.fixture(scope="module")
def tabs(browser):
    """One tab per screen width, with axe-core loaded into every page it opens."""
    contexts, pages = [], {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1)
        # injected through the debugging protocol, so the page's own CSP stays in force
        context.add_init_script(path=str(AXE))
        page = context.new_page()
        page.set_default_timeout(15_000)
        contexts.append(context)
        pages[width] = page
    yield pages
    for context in contexts:
        context.close()


def axe_violations(page, disable: tuple[str, ...] = ()) -> list[str]:
    """axe-core's WCAG 2.1 A/AA and best-practice violations on the page, one line each."""
    found = page.evaluate(
        """async (disable) => {
          const rules = {};
          for (const id of disable) rules[id] = {enabled: false};
          const r = await axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
            rules});
          return r.violations.map(v => v.id + " (" + v.impact + "): " +
            v.nodes.slice(0, 4).map(n => n.target.join(" ")).join(" | "));
        }""", list(disable))
    return list(found)


#: The elements that reach past the right edge of the window (what a failure names).
WIDE = """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
    .slice(0, 8).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 60))"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_nothing(server, tabs, path, width):
    page = tabs[width]
    page.goto(server.url + path)
    assert axe_violations(page) == []
    if width < 600:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.evaluate(WIDE)
        assert page.evaluate(SPILLS) == []


def test_a_long_unbroken_quote_wraps_on_a_phone(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    page.goto(server.url + "/entity/tahalof-nabni")
    quote = page.locator("blockquote.quote", has_text="a-very-long-path-segment").first
    sync_api.expect(quote).to_be_visible()
    box = quote.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    for card in page.locator("article.claim").all()[:20]:
        b = card.bounding_box()
        assert b is not None and b["x"] + b["width"] <= 390, b
    context.close()


def test_skip_link_is_the_first_stop_and_lands_on_the_content(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(server.url + "/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    sync_api.expect(skip).to_be_focused()
    sync_api.expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # the next Tab reaches the page's own content, not the header again
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('main')")
    context.close()


def test_typed_arabic_runs_right_to_left(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(server.url + "/search")
    for selector in ("header input[name=q]", "main input[name=q]"):
        box = page.locator(selector)
        assert box.get_attribute("dir") == "auto"
        box.fill("حركة حقوق")
        assert box.evaluate("e => e.matches(':dir(rtl)')")
    page.goto(server.url + "/entity/harakat-hoquq")
    quote = page.locator("blockquote.quote[lang=ar]").first
    assert quote.evaluate("e => getComputedStyle(e).direction") == "rtl"
    context.close()
