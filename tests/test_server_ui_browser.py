"""The query editor and the dashboard's keys in Chromium against a real `cfkb serve`
(issue 20): highlighting and completion (CodeMirror, vendored), syntax errors marked in
the text, long queries sent by POST, result tables sorted and resized, the same editor
without JavaScript, and j/k/Enter between conflicts.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import CHROMIUM, ServerProcess

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests skipped",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect


@pytest.fixture(scope="module")
def server(seed_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("editor") / "kb.store"
    shutil.copytree(seed_template, path)
    with ServerProcess(path, "--workers", "2") as s:
        yield s



@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def editor_text(page) -> str:
    return page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")


def clear_editor(page) -> None:
    page.locator(".CodeMirror [contenteditable=true]").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")


def test_prefixes_and_cfkb_terms_are_completed(server, page):
    page.goto(server.url + "/query")
    expect(page.locator(".CodeMirror .cm-keyword").first).to_have_text("SELECT")  # highlighted
    clear_editor(page)
    page.keyboard.type("SELECT * WHERE { ?c a cf")
    hints = page.locator("ul.CodeMirror-hints li")
    expect(hints.first).to_be_visible()
    assert {"cfkb:", "cfid:"} <= {t.split()[0] for t in hints.all_inner_texts()}
    page.keyboard.press("Escape")
    page.keyboard.type("kb:Cla")
    expect(hints.filter(has_text="cfkb:Claim").first).to_be_visible()
    expect(hints.locator("xpath=self::li[contains(@class, 'CodeMirror-hint-active')]")).to_have_text("cfkb:Claim")
    page.keyboard.press("Enter")
    page.keyboard.type(" }")
    assert editor_text(page) == "SELECT * WHERE { ?c a cfkb:Claim }"
    page.keyboard.press("Control+Enter")
    expect(page.locator("#results tbody tr")).not_to_have_count(0)


def test_a_syntax_error_is_one_line_and_marked_where_it_is(server, page):
    page.goto(server.url + "/query")
    clear_editor(page)
    page.evaluate("document.querySelector('.CodeMirror').CodeMirror.setValue("
                  "'SELECT ?x WHERE {\\n  ?x a cfkb:Claim .\\n  OPTINAL { ?x ?p ?o }\\n}')")
    page.keyboard.press("Control+Enter")
    error = page.locator("#query-error")
    expect(error).to_have_text("Syntax error, line 3, column 3: 'OPTINAL' is not a keyword; did you mean OPTIONAL?")
    expect(page.locator(".CodeMirror .cm-syntax-error")).to_have_text("OPTINAL")
    # the mark goes once the text changes
    page.locator(".CodeMirror [contenteditable=true]").press("End")
    page.keyboard.type(" ")
    expect(page.locator(".CodeMirror .cm-syntax-error")).to_have_count(0)


def test_a_long_query_is_posted_and_answered(server, page):
    page.goto(server.url + "/query")
    # about 70 KB, past what an address holds: notes, then a query (a long list of values takes
    # the query check a long time to read, which is not what this test is about)
    notes = "".join(f"# note {i:05d}: " + "x" * 60 + "\n" for i in range(1000))
    query = notes + "SELECT (COUNT(?c) AS ?n) WHERE { ?c a cfkb:Claim }"
    assert len(query) > 64 * 1024
    page.evaluate("q => document.querySelector('.CodeMirror').CodeMirror.setValue(q)", query)
    page.locator(".CodeMirror [contenteditable=true]").click()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#query-error")).to_have_count(0)
    expect(page.locator("#results tbody td")).to_have_text("58")
    assert page.url == server.url + "/query"
    # too long for a link: the downloads are a form that posts the query again
    download = page.locator(".downloads form button", has_text="CSV")
    with page.expect_download() as info:
        download.click()
    assert Path(info.value.path()).read_text(encoding="utf-8-sig").split() == ["n", "58"]


def test_named_query_shows_no_planner_notes_and_runs_with_its_plan(server, page):
    page.goto(server.url + "/query?name=sources")
    text = editor_text(page)
    assert text.startswith("# Sources:") and "Counted before labels" not in text
    page.click("button[name=run]")
    expect(page.locator("#results tbody tr").first).to_be_visible()
    # the named query as shipped: links carry its name, not its text
    assert "q=" not in page.locator(".downloads a", has_text="CSV").get_attribute("href")


def test_result_columns_sort_by_a_click(server, page):
    page.goto(server.url + "/query?name=sources&run=1")
    cells = page.locator("#results tbody tr td:nth-child(3)")
    expect(cells.first).to_be_visible()
    heading = page.locator("#results th", has_text="claims")
    heading.locator("button").click()
    expect(heading).to_have_attribute("aria-sort", "ascending")
    counts = [int(t) for t in cells.all_inner_texts()]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    heading.locator("button").click()
    expect(heading).to_have_attribute("aria-sort", "descending")
    assert [int(t) for t in cells.all_inner_texts()] == sorted(counts, reverse=True)


def test_the_editor_works_without_javascript(server, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server.url + "/query")
    page.fill("#q", "SELECT ?x WHERE { ?x foo:bar ?y }")
    page.click("button[name=run]")
    expect(page.locator("#query-error")).to_contain_text("unknown prefix foo:")
    expect(page.locator("pre.problem mark")).to_have_text("foo:bar")
    page.fill("#q", "SELECT (COUNT(*) AS ?n) WHERE { ?c a cfkb:Claim }")
    page.click("button[name=run]")
    expect(page.locator("#results tbody td")).to_have_text("58")
    context.close()


def test_result_columns_resize_by_their_corner(server, page):
    page.goto(server.url + "/query?name=sources&run=1")
    heading = page.locator("#results th", has_text="claims")
    heading.scroll_into_view_if_needed()
    box = heading.locator(".resize").bounding_box()
    before = heading.bounding_box()["width"]
    corner = (box["x"] + box["width"] - 4, box["y"] + box["height"] - 4)
    page.mouse.move(*corner)
    page.mouse.down()
    page.mouse.move(corner[0] + 150, corner[1], steps=5)
    page.mouse.up()
    assert heading.bounding_box()["width"] > before + 100


def test_dashboard_keys_move_between_conflicts(server, page):
    page.goto(server.url + "/")
    cards = page.locator("section.conflict")
    assert cards.count() >= 2
    page.keyboard.press("j")
    expect(cards.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("j")
    expect(cards.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(cards.nth(0)).not_to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("k")
    expect(cards.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    target = cards.nth(0).locator("header a").get_attribute("href")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(target) + "$"))
    # typing in a text field is typing, not moving
    page.goto(server.url + "/")
    page.fill("header input[name=q]", "jk")
    expect(page.locator("section.conflict.current")).to_have_count(0)


def test_compact_list_rows_unfold_to_the_cards(server, page):
    page.goto(server.url + "/")
    page.click("a:text-is('compact list')")
    page.wait_for_url(re.compile(r"/\?view=compact$"))
    rows = page.locator("details.row")
    assert rows.count() >= 2
    expect(rows.first.locator("section.conflict")).to_be_hidden()
    page.keyboard.press("j")
    expect(rows.first).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("Enter")
    expect(rows.first.locator("section.conflict article.claim").first).to_be_visible()
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    # filters keep the view
    href = page.locator("nav.filters a", has_text="derived").get_attribute("href")
    assert "view=compact" in href


def test_new_pages_read_without_javascript(server, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    for path, text in (("/entities?type=Party", "Harakat Hoquq"), ("/sources?sort=kind", "outlet"),
                       ("/?view=compact", "Harakat Hoquq"), ("/?entity=cfid:harakat-hoquq", "Harakat Hoquq")):
        page.goto(server.url + path)
        assert text in page.inner_text("main"), path
    # the compact list's rows unfold without a script
    page.goto(server.url + "/?view=compact")
    row = page.locator("details.row").first
    row.locator("> summary").click()
    expect(row.locator("article.claim").first).to_be_visible()
    context.close()


def test_entity_names_are_completed_from_the_server(server, page):
    page.goto(server.url + "/query")
    clear_editor(page)
    page.keyboard.type("SELECT * WHERE { ?c rdf:subject cfid:hoqu")
    hint = page.locator("ul.CodeMirror-hints li", has_text="Harakat Hoquq")
    expect(hint).to_have_count(1)
    expect(hint).to_contain_text("cfid:harakat-hoquq")
    page.keyboard.press("Enter")
    assert editor_text(page) == "SELECT * WHERE { ?c rdf:subject cfid:harakat-hoquq"
