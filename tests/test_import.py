"""Importing works for every format, dedupes, records its batch and says what it did (issue 5)."""

from __future__ import annotations

import datetime as dt

import pyoxigraph as ox
import pytest

from cfkb.io.importer import InputFile, import_files, import_into
from cfkb.model.vocabulary import CFID_NS, CFKB, CFKB_NS, DCT, PROV, RDF
from cfkb.store.core import KnowledgeBase
from conftest import FIXTURES, invoke
from storestate import claim_count

ANALYST_CSV = FIXTURES / "import" / "analyst-seed-claims.csv"
HEADER = "subject,predicate,object,source,date\n"


def test_analysts_csv_of_the_seed_claims_dedupes_against_the_bundled_data(runner, store_path):
    """Spelling variants, Arabic names, aliases and predicate words all resolve to the seed's claims."""
    before = claim_count(store_path)
    result = invoke(runner, store_path, "import", str(ANALYST_CSV))
    assert result.exit_code == 0, result.output
    assert "0 claim(s) added, 58 already present, 0 entities created" in result.stderr
    assert "no new conflicts" in result.stderr
    assert claim_count(store_path) == before == 58


def test_analysts_csv_into_an_empty_gazetteer_base_gives_the_seed_claims(tmp_path):
    from cfkb.io.importer import init_store, seed_files

    seeded, _ = init_store(str(tmp_path / "seeded"), analyst="a")
    expected = {r["c"].value for r in seeded.select("SELECT ?c WHERE { ?c a cfkb:Claim }")}
    seeded.close()
    kb = KnowledgeBase.create(tmp_path / "gaz")
    gazetteer = [f for f in seed_files() if f.name.endswith(".ttl")]
    import_files(kb, gazetteer, analyst="a")
    report = import_files(kb, [InputFile(ANALYST_CSV.name, ANALYST_CSV.read_bytes())], analyst="a")
    assert set(report.claims_added) == expected
    kb.close()


def test_each_batch_is_recorded_with_files_checksums_analyst_time_and_version(store_path, tmp_path):
    import hashlib

    data = (HEADER + "KH,participatesIn,December 2023 provincial elections,al-Iraqiya TV,2023-08-30\n").encode()
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    report = import_into(store_path, [InputFile("partner.csv", data)], analyst="Jane Analyst", when=when)
    kb = KnowledgeBase.open(store_path)
    batch = ox.NamedNode(report.batch)
    assert kb.contains(batch, RDF.type, CFKB.ImportBatch)
    rows = kb.select("""SELECT ?time ?who ?version ?title ?sum ?batch WHERE {
        ?batch prov:startedAtTime ?time ; prov:wasAssociatedWith ?agent ; cfkb:softwareVersion ?version ;
               prov:used ?file . ?agent rdfs:label ?who . ?file dct:title ?title ; cfkb:sha256 ?sum }""",
                     {"batch": batch})
    assert len(rows) == 1
    row = rows[0]
    assert row["time"].value in ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05+00:00")
    assert row["who"].value == "Jane Analyst"
    assert row["version"].value.startswith("cfkb ")
    assert row["title"].value == "partner.csv"
    assert row["sum"].value == hashlib.sha256(data).hexdigest()
    (claim,) = report.claims_added
    assert kb.contains(ox.NamedNode(claim), PROV.wasGeneratedBy, batch)
    assert not list(kb.store.quads_for_pattern(None, DCT.title, ox.Literal("partner.csv"), None))[1:]
    kb.close()


def test_create_entities_types_them_from_the_predicate_and_lists_them(runner, store_path, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text(HEADER + "Harakat Babiliyoun,memberOf,Tahalof Nabni,Shafaq News,2023-09-01\n"
                             "Babiliyoun List,contests,December 2023 provincial elections,Shafaq News,2023-09-01\n")
    refused = invoke(runner, store_path, "import", str(path))
    assert refused.exit_code == 1 and "unknown entity 'Harakat Babiliyoun'" in refused.stderr
    result = invoke(runner, store_path, "import", "--create-entities", str(path))
    assert result.exit_code == 0, result.output
    assert "2 claim(s) added, 0 already present, 3 entities created" in result.stderr
    assert "created entity 'Harakat Babiliyoun' <https://w3id.org/cfkb/id/harakat-babiliyoun>" in result.stderr
    kb = KnowledgeBase.open(store_path)
    types = kb.entity_index().types
    assert types[CFID_NS + "harakat-babiliyoun"] == {CFKB_NS + "Actor"}          # domain of memberOf
    assert types[CFID_NS + "babiliyoun-list"] == {CFKB_NS + "Organization"}      # domain of contests
    assert types[CFID_NS + "shafaq-news"] == {CFKB_NS + "MediaOutlet"}          # the source column
    kb.close()


def test_summary_reports_new_conflicts_and_the_command(runner, store_path, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "KH,participatesIn,December 2023 provincial elections,al-Iraqiya TV,2023-08-30\n")
    result = invoke(runner, store_path, "import", "-v", str(path))
    assert result.exit_code == 0, result.output
    assert "1 claim(s) added" in result.stderr
    assert "new conflict(s); see them with: cfkb conflicts" in result.stderr
    assert result.stdout.strip().startswith(CFID_NS + "claim/")


@pytest.mark.parametrize("fmt", ["turtle", "nt", "nq", "trig", "yaml", "csv"])
def test_every_format_imports_into_an_empty_base(store_path, empty_store, tmp_path, fmt):
    """The seed's claims, exported in each format, import into an empty base (with the gazetteer)."""
    from cfkb.io.importer import seed_files
    from claimfiles import claims_in, write_claims

    kb = KnowledgeBase.open(store_path)
    claims = claims_in(kb)
    kb.close()
    gazetteer = [f for f in seed_files() if f.name.endswith(".ttl")]
    data = write_claims(claims, fmt)
    import_into(empty_store, [*gazetteer, InputFile(f"claims.{fmt}", data, fmt)], analyst="t")
    kb = KnowledgeBase.open(empty_store)
    assert claims_in(kb) == claims
    kb.close()


def test_progress_counts_every_input_line(kb, tmp_path):
    rows = "".join(f"KH,participatesIn,December 2023 provincial elections,al-Iraqiya TV,2023-08-{d:02d}\n"
                   for d in range(1, 29))
    files = [InputFile("a.csv", (HEADER + rows).encode()),
             InputFile("b.nt", b"<http://x/a> <http://x/b> <http://x/c> .\n" * 5)]
    seen: list[int] = []
    import_files(kb, files, analyst="t", progress=seen.append)
    assert sum(seen) == sum(f.lines for f in files) == 29 + 5
    assert len(seen) > 2


def test_progress_bar_only_on_a_terminal_for_large_inputs(monkeypatch):
    import sys

    from cfkb.cli import progress as cli

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert isinstance(cli._progress_bar(10**6), cli._NoBar)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert isinstance(cli._progress_bar(10), cli._NoBar)
    bar = cli._progress_bar(10**6)
    assert not isinstance(bar, cli._NoBar) and bar.length == 10**6


def test_claim_add_prints_the_id_and_dedupes(runner, store_path):
    args = ["claim", "add", "--subject", "KH", "--predicate", "participatesIn", "--object",
            "December 2023 provincial elections", "--source", "al-Iraqiya TV", "--date", "2023-08-30"]
    first = invoke(runner, store_path, *args)
    assert first.exit_code == 0, first.output
    claim_id = first.stdout.strip()
    assert len(claim_id) == 24
    assert "new conflict(s)" in first.stderr
    again = invoke(runner, store_path, *args)
    assert again.stdout.strip() == claim_id
    assert "already in the base" in again.stderr


def test_claim_add_errors_leave_the_store_alone(runner, store_path):
    from storestate import store_state

    before = store_state(store_path)
    result = invoke(runner, store_path, "claim", "add", "--subject", "KH", "--predicate", "partof", "--object",
                    "Hoquq", "--source", "al-Iraqiya TV", "--date", "2023-08-30")
    assert result.exit_code == 1
    assert "unknown predicate 'partof'; did you mean 'memberOf'?" in result.stderr
    assert store_state(store_path) == before


def test_import_lock_refuses_a_second_importer_in_process(store_path):
    from cfkb.errors import StoreLockedError
    from cfkb.io.importer import import_lock

    with import_lock(store_path), pytest.raises(StoreLockedError, match="store in use"):
        import_into(store_path, [InputFile("x.nt", b"<http://x/a> <http://x/b> <http://x/c> .\n")],
                    analyst="t")


def test_rdf_shape_errors_point_at_the_claim_in_the_file(runner, store_path, tmp_path):
    path = tmp_path / "partner.ttl"
    path.write_text("""@prefix cfkb: <https://w3id.org/cfkb/ns#> .
@prefix cfid: <https://w3id.org/cfkb/id/> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .

cfid:p1 a cfkb:Claim ; rdf:subject cfid:kataib-hezbollah ; rdf:predicate cfkb:participatesIn ;
    rdf:object cfid:tahalof-nabni ; cfkb:statedIn cfid:al-iraqiya-tv ;
    cfkb:statedOn "2023-08-22"^^<http://www.w3.org/2001/XMLSchema#date> .
""")
    result = invoke(runner, store_path, "import", str(path))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {path}:5:1: claim https://w3id.org/cfkb/id/p1: object cfid:tahalof-nabni is not a cfkb:Election,"
        " as cfkb:participatesIn needs; fix the claim and import again")


def test_path_of_store_missing_is_clear(runner, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "a,b,c,d,2023-01-01\n")
    result = invoke(runner, tmp_path / "nope", "import", str(path))
    assert result.exit_code == 1
    assert "no store at" in result.stderr


