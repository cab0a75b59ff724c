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
    assert "0 claim(s) added, 59 already present" in result.stderr
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
    assert invoke(runner, store_path, "flag", kh["id"], "--status", "dismissed", "--reason", "chain too weak").exit_code == 0
    assert kh["id"] not in {c["id"] for c in conflicts_json(runner, store_path)}
    assert kh["id"] in {c["id"] for c in conflicts_json(runner, store_path, "--all")}


def test_interested_party_is_marked(runner, store_path):
    for c in conflicts_json(runner, store_path):
        denier = next(v for v in c["claims"] if v["role"] == "denies")
        assert denier["interested"] is True  # Moanes on Hoquq, Khazali on his ally KH
        asserter = next(v for v in c["claims"] if v["role"] == "asserts")
        assert asserter["interested"] is False


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
