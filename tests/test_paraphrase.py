"""Quote or paraphrase: a source's words reported in a document's own words
are a paraphrase, and no view puts them in quotation marks."""

from __future__ import annotations

import json

import pyoxigraph as ox

from cfkb.model.vocabulary import CFKB
from cfkb.store.core import KnowledgeBase
from conftest import invoke

MOANES = ("his movement will not take part in the elections because it believes the provincial councils need to be"
          " cancelled")
QUOTE_MARKS = ("\u201c", "\u201d", '"')


def _moanes(runner, store):
    data = json.loads(invoke(runner, store, "conflicts", "--format", "json").stdout)
    hoquq = next(c for c in data if c["claims"][1]["subject"]["label"] == "Harakat Hoquq")
    return next(v for v in hoquq["claims"] if v["role"] == "denies")


def _never_quoted(text: str, words: str) -> None:
    assert words in text
    for line in text.splitlines():
        if words[:40] in line:
            start = line.index(words[:40])
            assert not line[max(0, start - 1):start].strip(" ").endswith(QUOTE_MARKS), line
            assert "<blockquote" not in line, line


def test_the_seed_stores_moanes_as_a_paraphrase(runner, store_path):
    moanes = _moanes(runner, store_path)
    assert moanes["quote"] is None and moanes["paraphrase"] == MOANES and moanes["quote_lang"] == "en"
    with KnowledgeBase.open(store_path) as kb:
        iri = ox.NamedNode(moanes["iri"])
        assert not list(kb.store.quads_for_pattern(iri, CFKB.quote, None, None))
        [q] = kb.store.quads_for_pattern(iri, CFKB.paraphrase, None, None)
        assert q.object.value == MOANES


def test_no_view_prints_a_paraphrase_as_a_quote(runner, store_path, tmp_path):
    table = invoke(runner, store_path, "conflicts").stdout
    assert "in paraphrase:" in table
    _never_quoted(" ".join(table.split()), MOANES)
    moanes = _moanes(runner, store_path)
    show = invoke(runner, store_path, "claim", "show", moanes["id"]).stdout
    assert "  paraphrase   " + MOANES in show and "  quote " not in show
    _never_quoted(show, MOANES)
    md = invoke(runner, store_path, "report").stdout
    assert "In paraphrase (Hossein Moanes, 2023-08-25" in md
    _never_quoted(md, MOANES)
    assert f"> \u201c{MOANES}" not in md
    out = tmp_path / "b.html"
    assert invoke(runner, store_path, "report", "--format", "html", "-o", str(out)).exit_code == 0
    _never_quoted(out.read_text(), MOANES)


def test_the_web_page_shows_it_as_a_paraphrase(store_path):
    from starlette.testclient import TestClient

    from cfkb.server.app import create_app
    from html_tree import parse

    with KnowledgeBase.open(store_path) as kb:
        app = create_app(kb, workers=1, allowed_hosts=["testserver"])
        with TestClient(app) as c:
            doc = parse(c.get("/conflicts/9755e317886eab57").text)
    article = doc.find("article", class_="role-denies")
    assert not article.find_all("blockquote")
    para = article.find("p", class_="paraphrase")
    assert para.text == f"in paraphrase: {MOANES}"


def test_the_paraphrase_column_and_its_checks(runner, store_path, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("subject,predicate,object,source,speaker,date,paraphrase,quote_lang\n"
                     "Hoquq,memberOf,Safwa,al-Sharqiya TV,Hossein Moanes,2023-09-01,"
                     "\"he said Hoquq is in Safwa after all\",en\n")
    assert invoke(runner, store_path, "import", str(table)).exit_code == 0
    both = tmp_path / "both.csv"
    both.write_text("subject,predicate,object,source,quote,paraphrase\n"
                    "Hoquq,memberOf,Safwa,al-Sharqiya TV,we are in Safwa,he said they are in Safwa\n")
    result = invoke(runner, store_path, "import", str(both))
    assert result.exit_code == 1 and "both.csv:2:" in result.stderr and "not both" in result.stderr
    result = invoke(runner, store_path, "claim", "add", "--subject", "Hoquq", "--predicate", "memberOf",
                    "--object", "Safwa", "--source", "al-Sharqiya TV", "--speaker", "Hossein Moanes",
                    "--date", "2023-09-02", "--paraphrase", "he repeated it")
    assert result.exit_code == 0, result.output
    show = invoke(runner, store_path, "claim", "show", result.stdout.strip()).stdout
    assert "paraphrase   he repeated it" in show


def test_a_paraphrase_survives_export_and_import(runner, store_path, tmp_path):
    out = tmp_path / "base.ttl"
    assert invoke(runner, store_path, "export", "--tlp", "CLEAR", "-o", str(out)).exit_code == 0
    assert "cfkb:paraphrase" in out.read_text()
    other = tmp_path / "other.store"
    assert invoke(runner, other, "init", "--empty").exit_code == 0
    result = invoke(runner, other, "import", str(out))
    assert result.exit_code == 0, result.output
    moanes = _moanes(runner, other)
    assert moanes["paraphrase"] == MOANES and moanes["quote"] is None


def test_the_encoders_note_on_a_claim_is_shown(runner, store_path):
    moanes = _moanes(runner, store_path)
    note = "Moanes added that Hoquq members will participate as voters"
    assert moanes["note"].startswith(note)
    assert f"  note         {note}" in invoke(runner, store_path, "claim", "show", moanes["id"]).stdout
    assert f"Note on Hossein Moanes's claim: {note}" in invoke(runner, store_path, "report").stdout


def test_bulk_text_and_record_quads_agree_on_a_paraphrase():
    import datetime as dt

    from cfkb.model.vocabulary import CFID_NS, CFKB_NS, CLAIM_PROPERTIES, Claim, ClaimText

    c = Claim(CFID_NS + "harakat-hoquq", CFKB_NS + "participatesIn", CFID_NS + "iraq-provincial-elections-2023",
              CFID_NS + "al-sharqiya-tv", negated=True, speaker=CFID_NS + "hossein-moanes",
              date=dt.date(2023, 8, 25), paraphrase="his movement will not take part", quote_lang="en")
    quads = set(c.quad_list())
    assert ox.Quad(ox.NamedNode(c.iri), CFKB.paraphrase, ox.Literal("his movement will not take part",
                                                                    language="en")) in quads
    assert set(ox.parse(ClaimText().lines(c, c.iri), format=ox.RdfFormat.N_QUADS)) == quads
    assert any(iri == CFKB_NS + "paraphrase" for iri, _, _ in CLAIM_PROPERTIES)
