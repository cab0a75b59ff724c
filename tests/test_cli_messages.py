"""What the command line says is true: the commands it suggests work, usage
errors exit 2 as the README says, and errors name the option at fault."""

from __future__ import annotations

import re
import shlex

import pyoxigraph as ox
import pytest

from cfkb.cli import cli
from cfkb.model.vocabulary import CFKB_NS, CLAIM_PREFIX
from cfkb.store.core import KnowledgeBase
from conftest import invoke


def test_the_command_suggested_for_a_missing_store_creates_it(runner, tmp_path):
    path = tmp_path / "new store"
    result = runner.invoke(cli, ["--store", str(path), "conflicts"])
    assert result.exit_code == 1
    suggested = re.search(r"create one with: (.+)$", result.stderr.strip()).group(1)
    words = shlex.split(suggested)
    assert words[0] == "cfkb"
    made = runner.invoke(cli, [*words[1:], "--empty"])
    assert made.exit_code == 0, made.output
    assert runner.invoke(cli, ["--store", str(path), "conflicts"]).exit_code == 0


def test_a_directory_that_is_no_store_suggests_a_working_command(runner, tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "file").write_text("x")
    result = runner.invoke(cli, ["--store", str(tmp_path / "stuff"), "conflicts"])
    assert result.exit_code == 1
    assert "'cfkb --store NEW_PATH init'" in result.stderr


@pytest.mark.parametrize("args, option", [
    (["tlp", "default", "purple"], "LEVEL"),
    (["claim", "add", "--subject", "Hoquq", "--predicate", "memberOf", "--object", "Safwa", "--source", "X",
      "--date", "2023-02-31"], "--date"),
    (["claim", "add", "--subject", "Hoquq", "--predicate", "memberOf", "--object", "Safwa", "--source", "X",
      "--credibility", "7"], "--credibility"),
    (["claim", "add", "--subject", "Hoquq", "--predicate", "memberOf", "--object", "Safwa", "--source", "X",
      "--reliability", "Q"], "--reliability"),
    (["claim", "add", "--subject", "Hoquq", "--predicate", "memberOf", "--object", "Safwa", "--source", "X",
      "--tlp", "purple"], "--tlp"),
    (["query", "claims_about"], "--param entity=VALUE"),
    (["query", "claims_about", "-p", "entity=Hoquq", "-p", "nope=1"], "--param"),
    (["conflicts", "--known-as-of", "2023-99-01"], "--known-as-of"),
    (["export", "--format", "turtle", "--profile", "nanopub"], "--format trig"),
    (["entity", "merge", "Hoquq", "Kataib Hezbollah"], "--reason"),
    (["flag", "9755e317", "--status", "resolved"], "--reason"),
    (["flag", "9755e317", "--status", "open", "--prefer", "e01a340c"], "--prefer"),
    (["rank", "e01a340c", "deprecated"], "--reason"),
])
def test_usage_errors_exit_2_and_name_the_option(runner, store_path, args, option):
    result = invoke(runner, store_path, *args)
    assert result.exit_code == 2, result.output
    assert option in result.stderr


def test_claim_add_errors_name_the_option_not_a_table_cell(runner, store_path):
    result = invoke(runner, store_path, "claim", "add", "--subject", "Hoquq", "--predicate", "memberOf",
                    "--object", "Nobody at all", "--source", "al-Sharqiya TV")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --object: unknown entity 'Nobody at all'")
    assert "<command line>" not in result.stderr


def test_claim_add_accepts_lower_case_grades_and_markings(runner, store_path):
    result = invoke(runner, store_path, "claim", "add", "--subject", "Hoquq", "--predicate", "memberOf",
                    "--object", "Safwa", "--source", "al-Sharqiya TV", "--reliability", "b", "--credibility", "2",
                    "--tlp", "amber", "--date", "2023-09-01")
    assert result.exit_code == 0, result.output
    show = invoke(runner, store_path, "claim", "show", result.stdout.strip()).stdout
    assert "reliability  B" in show and "credibility  2" in show and "tlp          AMBER" in show


def test_claim_add_keeps_the_quote_word_for_word(runner, store_path):
    """The options go into the importer as a one-row table: commas, quotes,
    line breaks, Arabic and a leading hash reach the store unchanged."""
    quote = '# "We will not," he said, \n\u0644\u0646 \u0646\u0634\u0627\u0631\u0643; "never".'
    result = invoke(runner, store_path, "claim", "add", "--subject", "Hoquq", "--predicate", "memberOf",
                    "--object", "Safwa", "--source", "al-Sharqiya TV", "--date", "2023-09-03",
                    "--quote", quote, "--quote-lang", "ar")
    assert result.exit_code == 0, result.output
    iri = CLAIM_PREFIX + result.stdout.strip()
    with KnowledgeBase.open(store_path) as kb:
        found = list(kb.store.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(CFKB_NS + "quote"), None))
    assert [(q.object.value, q.object.language) for q in found] == [(quote, "ar")]


def test_claim_show_has_no_empty_history_line_after_a_grade(runner, store_path):
    claim = invoke(runner, store_path, "query", "claims_about", "-p", "entity=Hossein Moanes",
                   "--format", "csv").stdout.splitlines()[1].split(",")[1]
    claim = claim.rsplit("/", 1)[-1]
    assert invoke(runner, store_path, "claim", "grade", claim, "2").exit_code == 0
    show = invoke(runner, store_path, "claim", "show", claim).stdout
    history = show.split("  history\n", 1)[1].splitlines()
    assert history and all(re.search(r"tester: \S", line) for line in history)
    assert history[-1].endswith("tester: credibility 2")
