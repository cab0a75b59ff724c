"""The analyst's workflow on the seed's Hoquq/KH conflicts, end to end."""

from __future__ import annotations

import csv
import io
import json

from cfkb.resources import data_dir
from conftest import invoke


def conflicts_json(runner, store, *args):
    result = invoke(runner, store, "conflicts", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def sources_by_label(runner, store):
    result = invoke(runner, store, "sources", "--format", "csv")
    assert result.exit_code == 0, result.output
    return {r["label"]: r for r in csv.DictReader(io.StringIO(result.stdout))}


def test_hoquq_conflict_through_the_whole_workflow(runner, store_path):
    # grade Al-Rabaa TV
    result = invoke(runner, store_path, "source", "rate", "Al-Rabaa TV", "c")
    assert result.exit_code == 0, result.output
    assert sources_by_label(runner, store_path)["Al-Rabaa TV"]["reliability"] == "C"

    hoquq = next(c for c in conflicts_json(runner, store_path) if c["claims"][1]["subject"]["label"] == "Harakat Hoquq")
    rabaa = next(v for v in hoquq["claims"] if v["role"] == "asserts")
    moanes = next(v for v in hoquq["claims"] if v["role"] == "denies")
    assert rabaa["reliability"] == "C"  # the source's grade shows on its claims

    # flag it disputed
    assert invoke(runner, store_path, "flag", hoquq["id"][:8], "--status", "disputed").exit_code == 0
    statuses = {c["id"]: c["status"] for c in conflicts_json(runner, store_path)}
    assert statuses[hoquq["id"]] == "disputed"

    # resolving needs a reason
    result = invoke(runner, store_path, "flag", hoquq["id"], "--status", "resolved", "--prefer", moanes["id"])
    assert result.exit_code == 2 and "--reason" in result.stderr  # a missing option: a usage error

    # resolve, preferring Moanes
    result = invoke(runner, store_path, "flag", hoquq["id"], "--status", "resolved", "--prefer", moanes["id"][:10],
                    "--reason", "Moanes leads Hoquq and spoke after Al-Rabaa")
    assert result.exit_code == 0, result.output
    assert f"deprecated {rabaa['id']}" in result.stdout

    after = {c["id"]: c for c in conflicts_json(runner, store_path)}
    resolved = after[hoquq["id"]]
    assert resolved["status"] == "resolved"
    ranks = {v["id"]: v["rank"] for v in resolved["claims"]}
    assert ranks[moanes["id"]] == "preferred" and ranks[rabaa["id"]] == "deprecated"
    # resolved conflicts sort after open ones
    assert list(after)[-1] == hoquq["id"]

    # the track record changes
    record = sources_by_label(runner, store_path)
    assert record["Al-Rabaa TV"]["deprecated"] == "1"
    assert record["Hossein Moanes"]["preferred"] == "1"

    # the history is kept
    show = invoke(runner, store_path, "conflict", "show", hoquq["id"][:8])
    assert "disputed" in show.stdout and "resolved" in show.stdout and "Moanes leads Hoquq" in show.stdout
    assert "tester" in show.stdout

    # re-import the seed: the resolution and ranks stay
    seed = [str(p) for p in sorted(data_dir().glob("*.ttl")) + sorted(data_dir().glob("*.yaml"))]
    result = invoke(runner, store_path, "import", *seed)
    assert result.exit_code == 0, result.output
    assert "0 claim(s) added, 58 already present" in result.stderr
    again = {c["id"]: c for c in conflicts_json(runner, store_path)}
    assert again[hoquq["id"]]["status"] == "resolved"
    assert {v["id"]: v["rank"] for v in again[hoquq["id"]]["claims"]}[rabaa["id"]] == "deprecated"


def test_as_of_dates(runner, store_path):
    assert conflicts_json(runner, store_path, "--as-of", "2023-08-15") == []
    result = invoke(runner, store_path, "query", "claims_as_of", "-p", "asOf=2023-08-15", "--format", "csv")
    said = {r["saidBy"] for r in csv.DictReader(io.StringIO(result.stdout))}
    assert said == {"Al-Rabaa TV"}
    both = conflicts_json(runner, store_path, "--as-of", "2023-08-26")
    assert sorted(c["claims"][1]["subject"]["label"] for c in both) == ["Harakat Hoquq", "Kataib Hezbollah"]
    # before the article, KH's chain runs through the gazetteer's background relation
    kh = next(c for c in both if c["claims"][1]["subject"]["label"] == "Kataib Hezbollah")
    assert "gazetteer records Harakat Hoquq as the political wing" in kh["explanation"]


def test_known_as_of_before_recording_sees_nothing(runner, store_path):
    assert conflicts_json(runner, store_path, "--known-as-of", "2020-01-01") == []
    assert len(conflicts_json(runner, store_path, "--known-as-of", "2999-01-01")) == 2


def test_dismissed_conflicts_hidden_unless_all(runner, store_path):
    kh = next(c for c in conflicts_json(runner, store_path) if c["claims"][1]["subject"]["label"] == "Kataib Hezbollah")
    flagged = invoke(runner, store_path, "flag", kh["id"], "--status", "dismissed", "--reason", "chain too weak")
    assert flagged.exit_code == 0
    assert kh["id"] not in {c["id"] for c in conflicts_json(runner, store_path)}
    assert kh["id"] in {c["id"] for c in conflicts_json(runner, store_path, "--all")}


def test_interested_party_is_marked_and_explained(runner, store_path):
    by_subject = {c["claims"][1]["subject"]["label"]: c for c in conflicts_json(runner, store_path)}
    moanes = next(v for v in by_subject["Harakat Hoquq"]["claims"] if v["role"] == "denies")
    assert moanes["interested"] is True and moanes["interest"] == "Hossein Moanes leads Harakat Hoquq"
    # Khazali speaks of KH, which is no part of his side: an ally is not a stake
    khazali = next(v for v in by_subject["Kataib Hezbollah"]["claims"] if v["role"] == "denies")
    assert khazali["interested"] is False and khazali["interest"] is None
    for c in by_subject.values():
        assert not any(v["interested"] for v in c["claims"] if v["role"] == "asserts")
    table = invoke(runner, store_path, "conflicts").stdout
    assert "interested party (Hossein Moanes leads Harakat Hoquq)" in " ".join(table.split())


def _interest(runner, store_path, speaker, subject, predicate, obj, **more):
    args = ["claim", "add", "--subject", subject, "--predicate", predicate, "--object", obj,
            "--speaker", speaker, "--source", "al-Iraqiya TV", "--date", "2023-09-20"]
    for k, v in more.items():
        args += [f"--{k}", v]
    result = invoke(runner, store_path, *args)
    assert result.exit_code == 0, result.output
    show = invoke(runner, store_path, "claim", "show", result.stdout.strip()).stdout
    line = next((line for line in show.splitlines() if line.startswith("  interested")), None)
    return line.split("yes: ", 1)[1] if line else None


def test_interest_is_at_most_two_steps_up_and_never_through_other_members(runner, store_path):
    # Maliki leads State of Law, a member of the Framework: AAH, another member, is not his side
    assert _interest(runner, store_path, "Nouri al-Maliki", "AAH", "runsAs", "Tahalof Nabni",
                     area="Baghdad and the South") is None
    assert _interest(runner, store_path, "Nouri al-Maliki", "State of Law", "runsAs", "State of Law",
                     area="Diyala") == "Nouri al-Maliki leads State of Law"
    assert _interest(runner, store_path, "Nouri al-Maliki", "Coordination Framework", "runsAs",
                     "Tahalof Hadba al-Watani", area="Diyala") == (
        "Nouri al-Maliki leads State of Law, which is a member of Coordination Framework")
    # the object counts too: Khazali leads AAH, which leads Safwa
    assert _interest(runner, store_path, "Qais al-Khazali", "Kataib Hezbollah", "supports",
                     "Tahalof al-Safwa al-Watani") == (
        "Qais al-Khazali leads Asaib Ahl al-Haq, which leads Tahalof al-Safwa al-Watani")
    assert _interest(runner, store_path, "Qais al-Khazali", "Qais al-Khazali", "leads", "AAH") == (
        "Qais al-Khazali is the claim's subject")


def test_rank_and_grade_by_hand(runner, store_path):
    c = conflicts_json(runner, store_path)[0]
    claim_id = c["claims"][0]["id"]
    assert invoke(runner, store_path, "rank", claim_id, "deprecated").exit_code == 2  # needs --reason
    assert invoke(runner, store_path, "rank", claim_id, "deprecated", "--reason", "single outlet").exit_code == 0
    assert invoke(runner, store_path, "claim", "grade", claim_id, "5").exit_code == 0
    show = invoke(runner, store_path, "claim", "show", claim_id[:8])
    assert "deprecated" in show.stdout and "credibility  5" in show.stdout and "single outlet" in show.stdout
    assert invoke(runner, store_path, "claim", "grade", claim_id, "9").exit_code == 2


def test_unknown_ids_are_clear_errors(runner, store_path):
    result = invoke(runner, store_path, "flag", "ffffffff", "--status", "open")
    assert result.exit_code == 1 and "no conflict with ID" in result.stderr
    result = invoke(runner, store_path, "rank", "zzzzzz", "preferred")
    assert result.exit_code == 1 and "no claim with ID" in result.stderr


def test_markdown_and_html_reports(runner, store_path, tmp_path):
    md = invoke(runner, store_path, "report")
    assert md.exit_code == 0
    assert md.stdout.startswith("# cfkb briefing")
    assert "Hossein Moanes" in md.stdout and "## Timeline of statements" in md.stdout
    out = tmp_path / "b.html"
    assert invoke(runner, store_path, "report", "--format", "html", "-o", str(out)).exit_code == 0
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "<link" not in html and "<script src" not in html


def test_speaker_and_outlet_are_graded_apart_the_claims_own_grade_first(runner, store_path):
    assert invoke(runner, store_path, "source", "rate", "Hossein Moanes", "B").exit_code == 0
    assert invoke(runner, store_path, "source", "rate", "al-Sharqiya TV", "D").exit_code == 0
    hoquq = next(c for c in conflicts_json(runner, store_path) if c["claims"][1]["subject"]["label"] == "Harakat Hoquq")
    moanes = next(v for v in hoquq["claims"] if v["role"] == "denies")
    grades = (moanes["speaker_reliability"], moanes["outlet_reliability"], moanes["claim_reliability"])
    assert grades == ("B", "D", None)
    assert moanes["reliability"] == "B"  # the speaker's word before the channel's
    table = " ".join(invoke(runner, store_path, "conflicts").stdout.split())
    assert "graded: speaker B, outlet D" in table
    assert invoke(runner, store_path, "claim", "grade", moanes["id"], "2").exit_code == 0
    show = invoke(runner, store_path, "claim", "show", moanes["id"]).stdout
    assert "  grading      claim 2, speaker B, outlet D" in show
    # a grade given on the claim itself comes first
    result = invoke(runner, store_path, "claim", "add", "--subject", "Hoquq", "--predicate", "participatesIn",
                    "--object", "December 2023 provincial elections", "--negated", "--speaker", "Hossein Moanes",
                    "--source", "al-Sharqiya TV", "--date", "2023-09-30", "--reliability", "A", "--credibility", "3")
    assert result.exit_code == 0, result.output
    show = invoke(runner, store_path, "claim", "show", result.stdout.strip()).stdout
    assert "  grading      claim A3, speaker B, outlet D" in show
    report = invoke(runner, store_path, "report").stdout
    assert "claim 2, speaker B, outlet D" in report


def test_a_new_stake_counts_at_once_in_the_process_that_wrote_it(kb):
    """The edges a base's stakes are read from are kept per process until a
    write moves the generation: a new 'leads' claim makes its speaker a party
    in the next view, in the same process."""
    from cfkb.model.vocabulary import CFKB, Claim
    from cfkb.workflow.stakes import Stakes, interest

    index = kb.entity_index()
    speaker, group = index.resolve("Nouri al-Maliki"), index.resolve("Kataib Hezbollah")
    before = Stakes(kb)
    before.preload()
    assert interest(before, speaker, group) is None
    kb.write(Claim(subject=speaker, predicate=CFKB.leads.value, object=group, source=index.resolve("Al-Rabaa TV"),
                   speaker=None, area=None, election=None, date=None, tlp="CLEAR").quads())
    after = Stakes(kb)
    after.preload()
    assert interest(after, speaker, group, label=index.label) == "Nouri al-Maliki leads Kataib Hezbollah"


def test_the_stake_queries_list_the_stake_relations():
    """The stake queries name the relations in their own VALUES blocks: those are the same as
    STAKE_RELATIONS, which the claim table's read of the edges uses."""
    import re

    from cfkb.store.owntexts import own_query
    from cfkb.workflow.stakes import STAKE_RELATIONS

    for name in ("stake_step_claimed", "stake_step_gazetteer", "stake_gazetteer_edges"):
        block = re.search(r"VALUES \?p \{([^}]*)\}", own_query(name))
        assert block is not None, name
        assert block.group(1).split() == [f"cfkb:{r}" for r in STAKE_RELATIONS], name


def test_a_page_of_speakers_reads_the_same_sides_as_the_whole_base(kb):
    from cfkb.workflow.stakes import Stakes

    speakers = sorted({r["w"].value for r in kb.select(
        "SELECT DISTINCT ?w WHERE { ?c a cfkb:Claim ; prov:wasAttributedTo ?w }")})
    prepared = Stakes(kb)
    prepared.prepare(speakers)  # the first page in a process: these speakers' edges alone
    assert not prepared._preloaded
    whole = Stakes(kb)
    whole.preload()
    sides = {s: prepared.of(s) for s in speakers}
    assert sides == {s: whole.of(s) for s in speakers}
    assert any(len(path) == 2 for paths in sides.values() for path in paths.values())  # two steps up
    assert not prepared._preloaded  # every node the walk needed was read by prepare
    again = Stakes(kb)
    again.prepare(speakers[:1])  # a process showing page after page reads every edge once
    assert again._preloaded


def test_a_page_of_speakers_walks_up_through_gazetteer_relations_and_claims_alike(kb):
    """A step up may be a gazetteer relation (read from the graph) or a claim (read from the claim
    table), in either order: the sides a page's speakers are read with are the whole base's."""
    import pyoxigraph as ox

    from cfkb.model.vocabulary import CFID_NS, CFKB, Claim
    from cfkb.workflow.stakes import Stakes

    a, b, c, d = (CFID_NS + f"stake-test-{x}" for x in "abcd")
    source = kb.entity_index().resolve("Al-Rabaa TV")

    def claim(subject: str, predicate: ox.NamedNode, obj: str) -> list[ox.Quad]:
        return Claim(subject=subject, predicate=predicate.value, object=obj, source=source, speaker=None,
                     area=None, election=None, date=None, tlp="CLEAR").quads()

    # a leads b (gazetteer), b memberOf c (claim), d politicalWingOf a (claim), c memberOf d (gazetteer)
    kb.write([ox.Quad(ox.NamedNode(a), CFKB.leads, ox.NamedNode(b)), *claim(b, CFKB.memberOf, c),
              *claim(d, CFKB.politicalWingOf, a), ox.Quad(ox.NamedNode(c), CFKB.memberOf, ox.NamedNode(d))])
    prepared = Stakes(kb)
    prepared.prepare([a, d])
    assert not prepared._preloaded
    whole = Stakes(kb)
    whole.preload()
    assert {s: prepared.of(s) for s in (a, d)} == {s: whole.of(s) for s in (a, d)}
    assert prepared.of(a)[c] == (("leads", b), ("memberOf", c))  # a gazetteer step, then a claim
    assert prepared.of(d)[b] == (("politicalWingOf", a), ("leads", b))  # a claim, then a gazetteer step
    assert not prepared._preloaded  # every node the walk needed was read by prepare


def test_a_page_of_conflicts_names_its_entities_without_reading_every_name(kb):
    from cfkb.workflow.conflicts import conflict_page

    total, page = conflict_page(kb, limit=5)
    assert total == len(page) == 2
    said = {(v.subject.label, v.object.label, v.speaker.label if v.speaker else None) for c in page for v in c.claims}
    assert ("Harakat Hoquq", "December 2023 provincial elections", "Hossein Moanes") in said
    assert ("Kataib Hezbollah", "December 2023 provincial elections", "Qais al-Khazali") in said
    assert kb._index is None  # the labels of the claims shown were read for them alone
