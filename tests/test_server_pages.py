"""Pages added in issue 20: all entities, sources sortable by every column with their kind,
and a TLP badge on every claim, the base's default on unmarked ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cfkb.server import pages
from cfkb.server.app import create_app
from cfkb.store.core import KnowledgeBase
from conftest import seeded_copy
from html_tree import parse

UNMARKED = """
- subject: Badr Organization
  predicate: runsAs
  object: Tahalof Nabni
  area: Diyala
  election: December 2023 provincial elections
  speaker: Test Speaker
  source: Test Outlet
  date: 2023-09-01
- subject: Hoquq
  predicate: participatesIn
  object: December 2023 provincial elections
  negated: true
  election: December 2023 provincial elections
  speaker: Test Speaker
  source: Test Outlet
  date: 2023-08-30
  tlp: CLEAR
"""


@pytest.fixture(scope="module")
def store(seed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_copy(seed_template, tmp_path_factory.mktemp("pages") / "kb.store", "unmarked.yaml", UNMARKED)


@pytest.fixture(scope="module")
def client(store: Path):
    kb = KnowledgeBase.open(store)
    with TestClient(create_app(kb, workers=1, allowed_hosts=["testserver"])) as c:
        yield c
    kb.close()


def rows(doc) -> list[list[str]]:
    return [[td.text for td in tr.find_all("td")] for tr in doc.find("tbody").find_all("tr")]


def test_entities_lists_every_entity_with_type_counts(client):
    doc = parse(client.get("/entities").text)
    names = [r[0] for r in rows(doc)]
    assert "Harakat Hoquq" in names and "Diyala" in names and "Al-Rabaa TV" in names
    assert names == sorted(names, key=str.casefold)
    assert not any("claim" in r[2] or "batch" in r[2] for r in rows(doc))  # records, not entities
    facets = {a.text: a.get("href") for a in doc.find("nav", class_="filters").find_all("a")}
    party = next(k for k in facets if k.startswith("Party ("))
    n = int(party.split("(")[1].rstrip(")"))
    only = parse(client.get(facets[party]).text)
    assert len(rows(only)) == n and all("Party" in r[1] for r in rows(only))
    assert client.get("/entities?type=Nothing").status_code == 400
    assert client.get("/entities?page=0").status_code == 400
    assert any(a.get("href") == "/query?name=entities&run=1" for a in doc.find_all("a"))


def test_entities_come_a_page_at_a_time(client, monkeypatch):
    everything = [r[0] for r in rows(parse(client.get("/entities").text))]
    monkeypatch.setattr(pages, "ENTITY_PAGE", 10)
    first = parse(client.get("/entities").text)
    assert [r[0] for r in rows(first)] == everything[:10]
    nav = first.find("nav", class_="pages")
    assert f"1–10 of {len(everything)}" in nav.text
    following = {a.get("rel"): a.get("href") for a in nav.find_all("a")}["next"]
    second = parse(client.get(following).text)
    assert [r[0] for r in rows(second)] == everything[10:20]


def test_sources_have_a_kind_and_sort_by_every_column(client):
    doc = parse(client.get("/sources").text)
    header = [th.text.split()[0] for th in doc.find("thead").find_all("th")]
    assert header == ["source", "kind", "claims", "last"]
    table = rows(doc)
    kinds = {r[0]: r[1] for r in table}
    assert kinds["Al-Rabaa TV"] == "outlet" and kinds["Qais al-Khazali"] == "speaker"
    assert "document" in kinds.values()
    claims = [int(r[2]) for r in table]
    assert claims == sorted(claims, reverse=True)  # most claims first, as before
    for column, index in (("source", 0), ("kind", 1), ("claims", 2), ("last", 3)):
        for order in ("asc", "desc"):
            got = rows(parse(client.get(f"/sources?sort={column}&order={order}").text))
            values = [r[index] for r in got]
            key = int if column == "claims" else str.casefold
            present = [v for v in values if v != "–"]
            assert present == sorted(present, key=key, reverse=order == "desc"), (column, order)
            assert values[len(present):] == ["–"] * (len(values) - len(present))  # undated last
    sorted_by_kind = parse(client.get("/sources?sort=kind").text)
    th = sorted_by_kind.find("thead").find_all("th")[1]
    assert th.get("aria-sort") == "ascending" and "order=desc" in th.find("a").get("href")
    assert client.get("/sources?sort=nothing").status_code == 400
    assert any(a.get("href") == "/query?name=sources&run=1" for a in doc.find_all("a"))


def test_every_claim_shows_its_effective_tlp(client, store):
    doc = parse(client.get("/entity/badr").text)
    badges = [s.text for s in doc.find_all("span") if "tlp" in (s.get("class") or "").split()]
    assert "TLP:CLEAR" in badges  # marked claims show their own marking
    assert "TLP:AMBER (default)" in badges  # the unmarked one shows the base's default
    cards = doc.find_all("article")
    assert all(any("tlp" in (s.get("class") or "").split() for s in c.find_all("span")) for c in cards)


def test_the_default_badge_follows_the_base(store, tmp_path):
    import shutil

    from cfkb.io import tlp

    copy = tmp_path / "kb.store"
    shutil.copytree(store, copy)
    with KnowledgeBase.open(copy, write=True) as kb:
        tlp.set_default_level(kb, "green")
    with KnowledgeBase.open(copy) as kb, TestClient(create_app(kb, workers=1, allowed_hosts=["testserver"])) as c:
        assert "TLP:GREEN <span class=\"tlp-note\">(default)</span>" in c.get("/entity/badr").text


def cards(doc) -> list[str]:
    return [c.get("id")[2:] for c in doc.find_all("section") if "conflict" in (c.get("class") or "").split()]


def test_dashboard_newest_first_with_pages_and_counts(client, monkeypatch):
    from cfkb.workflow.conflicts import find_conflicts

    doc = parse(client.get("/").text)
    everything = cards(doc)
    assert len(everything) >= 3
    kb = client.app.state.cfkb.kb
    found = {c.id: c for c in find_conflicts(kb)}
    newest = [pages.newest(found[cid]) for cid in everything if found[cid].status in ("open", "disputed")]
    assert newest == sorted(newest, reverse=True)
    monkeypatch.setattr(pages, "DASHBOARD_PAGE", 2)
    first = parse(client.get("/").text)
    assert cards(first) == everything[:2]
    nav = first.find("nav", class_="pages")
    assert f"Conflicts 1–2 of {len(everything)}" in nav.text
    older = {a.get("rel"): a.get("href") for a in nav.find_all("a")}["next"]
    assert older == "/?page=2"
    second = parse(client.get(older).text)
    assert cards(second) == everything[2:4]
    # the section heading counts every conflict in it, not only this page's
    assert second.find("section", id="open").find("span", class_="count").text == str(len(everything))
    assert client.get("/?page=0").status_code == 400


def test_dashboard_facets_count_what_their_links_show(client):
    doc = parse(client.get("/?kind=derived").text)
    links = {a.text: a.get("href") for a in doc.find("nav", class_="filters").find_all("a")}
    for label, href in links.items():
        if "(" not in label:
            continue
        n = int(label.rsplit("(", 1)[1].rstrip(")"))
        assert len(cards(parse(client.get(href).text))) == min(n, pages.DASHBOARD_PAGE), (label, href)
    assert links["open (3)"] == "/?kind=derived&status=open"
    assert links["revision (0)"] == "/?kind=revision"


def test_dashboard_first_page_at_20k_claims_is_small(tmp_path):
    import pyoxigraph as ox

    from bench.generate import write_nquads
    from cfkb.server.app import get

    data = tmp_path / "claims.nq"
    write_nquads(20_000, 0, data)
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
    kb.close()
    with KnowledgeBase.open(tmp_path / "kb") as kb:
        app = create_app(kb, workers=1, prefill=False, allowed_hosts=["testserver"])
        status, _, body = get(app, "/")
        assert status == 200 and len(body) < 100_000, len(body)
        assert body.count(b'class="conflict ') == pages.DASHBOARD_PAGE
        status, _, body = get(app, "/entities")
        assert status == 200 and body.count(b"<tr>") == pages.ENTITY_PAGE + 1
        # the generated areas' names hold a slash (cfid:b/r0): their graph links still answer
        status, _, body = get(app, "/entity?iri=cfid:b/r0")
        assert status == 200 and b'href="/graph?area=b/r0"' in body
        assert get(app, "/graph?area=b/r0")[0] == 200


def facet_links(doc) -> list[tuple[str, int, str]]:
    """(text, count, address) of every facet value the page links to."""
    out = []
    for section in doc.find_all("section"):
        if "facet" not in (section.get("class") or "").split():
            continue
        for li in section.find_all("li"):
            links = li.find_all("a")
            counts = [s for s in li.find_all("span") if "count" in (s.get("class") or "")]
            if links and counts and links[0].text != "any":
                out.append((links[0].text, int(counts[0].text), links[0].get("href")))
    return out


def test_facets_by_entity_area_source_grading_and_tlp_combine(client):
    doc = parse(client.get("/").text)
    links = facet_links(doc)
    texts = {t for t, _, _ in links}
    assert {"Harakat Hoquq", "Al-Rabaa TV", "TLP:CLEAR"} <= texts
    for text, count, href in links:
        assert len(cards(parse(client.get(href).text))) == min(count, pages.DASHBOARD_PAGE), (text, href)
    hoquq = next(h for t, _, h in links if t == "Harakat Hoquq")
    assert hoquq == "/?entity=https%3A%2F%2Fw3id.org%2Fcfkb%2Fid%2Fharakat-hoquq"
    narrowed = parse(client.get(hoquq).text)
    assert "Harakat Hoquq" in narrowed.find("p", class_="chosen").text
    # a second facet narrows further, and its counts are over what the first leaves
    for text, count, href in facet_links(narrowed):
        assert "entity=" in href
        assert len(cards(parse(client.get(href).text))) == min(count, pages.DASHBOARD_PAGE), (text, href)
    by_curie = parse(client.get("/?entity=cfid:harakat-hoquq").text)
    assert cards(by_curie) == cards(narrowed)
    assert cards(parse(client.get("/?entity=cfid:nobody").text)) == []


def test_new_since_the_analyst_marked_them_seen(client):
    everything = cards(parse(client.get("/").text))
    r = client.post("/seen", data={"next": "/?kind=derived"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/?kind=derived"
    assert "cfkb_seen=" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    client.cookies.clear()
    try:
        # marked seen long before the claims were recorded: every conflict is new
        client.cookies.set("cfkb_seen", "2000-01-01T00:00:00+00:00")
        doc = parse(client.get("/").text)
        assert f"{len(everything)} new" in doc.find("form", class_="seen").text
        assert cards(parse(client.get("/?new=1").text)) == everything
        # marked seen after them: nothing is new, and "only new" shows nothing
        client.cookies.set("cfkb_seen", "2999-01-01T00:00:00+00:00")
        doc = parse(client.get("/").text)
        assert "Nothing new" in doc.find("form", class_="seen").text
        assert cards(parse(client.get("/?new=1").text)) == []
        # a cookie that is not a time is as good as none
        client.cookies.set("cfkb_seen", "garbage")
        assert client.get("/").status_code == 200
    finally:
        client.cookies.clear()
    assert client.post("/seen", data={"next": "//evil.example/"}, follow_redirects=False).headers["location"] == "/"


def test_entities_filtered_by_name_in_any_spelling(client):
    everything = rows(parse(client.get("/entities").text))
    doc = parse(client.get("/entities", params={"q": "Huquq"}).text)
    found = [r[0] for r in rows(doc)]
    assert "Harakat Hoquq" in found and len(found) < len(everything)
    facets = {a.text: a.get("href") for a in doc.find("nav", class_="filters").find_all("a")}
    assert facets[f"all ({len(found)})"] == "/entities?q=Huquq"
    party = next(k for k in facets if k.startswith("Party ("))
    assert facets[party] == "/entities?type=Party&q=Huquq"
    assert "Harakat Hoquq" in [r[0] for r in rows(parse(client.get(facets[party]).text))]
    assert "Harakat Hoquq" in [r[0] for r in rows(parse(client.get("/entities", params={"q": "حركة حقوق"}).text))]
    nothing = parse(client.get("/entities", params={"q": "zzqqxx", "type": "Party"}).text)
    assert "No entities." in nothing.text


def test_new_since_the_last_visit_without_marking(client):
    import datetime as dt

    everything = cards(parse(client.get("/").text))
    now = dt.datetime.now(dt.timezone.utc)
    client.cookies.clear()
    try:
        # a visit long before the claims were recorded, a pause, and a new visit: all are new
        client.cookies.set("cfkb_visit", "2000-01-01T00:00:00+00:00")
        r = client.get("/")
        assert f"{len(everything)} new" in parse(r.text).find("form", class_="seen").text
        assert "cfkb_seen=2000-01-01" in r.headers["set-cookie"]
        # within the same visit (no pause), the mark stays where it was
        client.cookies.clear()
        client.cookies.set("cfkb_seen", "2000-01-01T00:00:00+00:00")
        client.cookies.set("cfkb_visit", (now - dt.timedelta(minutes=5)).isoformat())
        r = client.get("/")
        assert f"{len(everything)} new" in parse(r.text).find("form", class_="seen").text
        assert "cfkb_seen=" not in r.headers["set-cookie"] and "cfkb_visit=" in r.headers["set-cookie"]
    finally:
        client.cookies.clear()


def test_an_entity_page_lists_its_claims_a_page_at_a_time(client, monkeypatch):
    from cfkb.server import data

    def timeline(doc) -> list[str]:
        return [a.get("href") for li in doc.find("ol", class_="timeline").find_all("li") for a in li.find_all("a")]

    whole = parse(client.get("/entity/harakat-hoquq").text)
    everything = timeline(whole)
    assert len(everything) >= 5 and not whole.find_all("nav", class_="pages")
    monkeypatch.setattr(data, "PAGE_CLAIMS", 2)
    seen, address = [], "/entity/harakat-hoquq"
    while address:
        doc = parse(client.get(address).text)
        shown = timeline(doc)
        assert 1 <= len(shown) <= 2
        nav = doc.find("nav", class_="pages")
        assert f"{len(seen) + 1}–{len(seen) + len(shown)} of " in nav.text
        seen += shown
        later = {a.get("rel"): a.get("href") for a in nav.find_all("a")}.get("next")
        address = later
    assert seen == everything  # every claim once, in date order
    assert client.get("/entity/harakat-hoquq?page=x").status_code == 400
    # an entity asked for by its IRI links to its pages too
    doc = parse(client.get("/entity", params={"iri": "cfid:harakat-hoquq"}).text)
    later = {a.get("rel"): a.get("href") for a in doc.find("nav", class_="pages").find_all("a")}["next"]
    assert timeline(parse(client.get(later).text)) == everything[2:4]


def test_a_source_page_lists_its_claims_a_page_at_a_time_and_sums_up_all_of_them(client, monkeypatch):
    from cfkb.server import data

    def record(doc) -> dict[str, str]:
        return {d.find("dt").text: d.find("dd").text for d in doc.find("dl", class_="counts").find_all("div")}

    def claims(doc) -> list[str]:
        return [a.find("a").get("href") for a in doc.find_all("article", class_="claim")]

    whole = parse(client.get("/source/al-rabaa-tv").text)
    everything, summed = claims(whole), record(whole)
    by_predicate = whole.find("section", class_="record").find("p").text
    assert len(everything) == 3 and not whole.find_all("nav", class_="pages")
    monkeypatch.setattr(data, "PAGE_CLAIMS", 2)
    seen, address = [], "/source/al-rabaa-tv"
    while address:
        doc = parse(client.get(address).text)
        # the track record is over all its claims, whichever page is shown
        assert record(doc) == summed
        assert doc.find("section", class_="record").find("p").text == by_predicate
        seen += claims(doc)
        nav = doc.find("nav", class_="pages")
        address = {a.get("rel"): a.get("href") for a in nav.find_all("a")}.get("next")
    assert seen == everything
    assert client.get("/source/al-rabaa-tv?page=0").status_code == 400
