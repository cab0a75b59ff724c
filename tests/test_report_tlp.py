"""`cfkb report` under a TLP ceiling, and what it quotes escaped (issues 15, 18).

Claims go in with `cfkb claim add` on a real store; the report is read back in
Markdown and HTML through the CLI."""

from __future__ import annotations

import pytest

from conftest import invoke

# Kataib Hezbollah takes part: contradicts Qais al-Khazali's denial, so the claim is in a conflict
KH_RUNS = ["claim", "add", "--subject", "KH", "--predicate", "participatesIn", "--object",
           "December 2023 provincial elections", "--source", "al-Iraqiya TV", "--date", "2023-08-30"]
FORMATS = ["markdown", "html"]


def _report(runner, store_path, *args):
    result = invoke(runner, store_path, "report", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _add(runner, store_path, *args):
    result = invoke(runner, store_path, *KH_RUNS, *args)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_red_claim_is_never_quoted_below_red(runner, store_path, fmt):
    _add(runner, store_path, "--tlp", "RED", "--quote", "RED-QUOTE-TOKEN")
    for ceiling in ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"):
        text = _report(runner, store_path, "--format", fmt, "--tlp", ceiling)
        assert "RED-QUOTE-TOKEN" not in text, ceiling
        assert "1 claim(s) withheld by TLP" in text, ceiling
    default = _report(runner, store_path, "--format", fmt)
    assert "RED-QUOTE-TOKEN" not in default and "TLP:GREEN" in default.split("Conflicts")[0]
    assert "TLP:AMBER+STRICT" in _report(runner, store_path, "--format", fmt, "--tlp", "RED")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_ceiling_decides_and_each_claim_shows_its_marking(runner, store_path, fmt):
    _add(runner, store_path, "--tlp", "AMBER", "--quote", "AMBER-QUOTE-TOKEN")
    green = _report(runner, store_path, "--format", fmt)
    assert "AMBER-QUOTE-TOKEN" not in green and "TLP:AMBER" not in green
    amber = _report(runner, store_path, "--format", fmt, "--tlp", "amber")
    assert "AMBER-QUOTE-TOKEN" in amber
    line = next(line for line in amber.splitlines() if "AMBER-QUOTE-TOKEN" in line)
    assert "TLP:AMBER" in line  # the marking beside the quote
    assert "0 claim(s) withheld by TLP" in amber


def test_withheld_counts_are_those_of_export(runner, store_path):
    _add(runner, store_path, "--tlp", "RED", "--quote", "x")
    _add(runner, store_path, "--tlp", "AMBER", "--date", "2023-08-31")
    for ceiling in ("GREEN", "AMBER"):
        exported = invoke(runner, store_path, "export", "--tlp", ceiling, "--format", "nt")
        withheld = exported.stderr.split(";")[-1].split()[0]
        assert f"{withheld} claim(s) withheld by TLP" in _report(runner, store_path, "--tlp", ceiling)


def test_an_unmarked_claim_counts_as_the_default_marking(runner, store_path):
    _add(runner, store_path, "--quote", "UNMARKED-QUOTE-TOKEN")
    assert "UNMARKED-QUOTE-TOKEN" not in _report(runner, store_path)  # AMBER by default, above GREEN
    assert invoke(runner, store_path, "tlp", "default", "GREEN").exit_code == 0
    assert "UNMARKED-QUOTE-TOKEN" in _report(runner, store_path)


HOSTILE = '<script>alert("x")</script> [link](javascript:alert(1)) | \x1b]0;title\x07 \u202eevil'


@pytest.mark.parametrize("fmt", FORMATS)
def test_what_the_report_quotes_is_escaped(runner, store_path, fmt):
    _add(runner, store_path, "--tlp", "CLEAR", "--quote", HOSTILE)
    text = _report(runner, store_path, "--format", fmt)
    assert "alert(" in text  # the quote is there...
    assert "<script" not in text.lower()  # ...as text, never as markup
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    if fmt == "markdown":
        assert "&lt;script&gt;" in text and "\\[link\\](javascript" in text
        quote = next(line for line in text.splitlines() if "alert(" in line and line.startswith(">"))
        assert "\\|" in quote
    else:
        from html.parser import HTMLParser

        tags: list[str] = []

        class Tags(HTMLParser):
            def handle_starttag(self, tag, attrs):
                tags.append(tag)

        Tags().feed(text)
        assert "script" not in tags and "a" not in tags
