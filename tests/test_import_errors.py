"""Every bad input gets one clear line, exit 1, and leaves the store as it was (issue 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import invoke
from storestate import claim_count, store_state

HEADER = "subject,predicate,object,source,date\n"
GOOD_ROW = "KH,participatesIn,December 2023 provincial elections,al-Iraqiya TV,2023-08-30\n"


def _fails(runner, store_path: Path, tmp_path: Path, name: str, content: str | bytes, *args: str) -> str:
    """Import a file that must be refused; returns the one error line."""
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    before = store_state(store_path)
    result = invoke(runner, store_path, "import", str(path), *args)
    assert result.exit_code == 1, result.output
    assert store_state(store_path) == before
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert message.startswith(f"Error: {path}"), message
    assert "Traceback" not in result.output
    return message[len("Error: "):].replace(str(path), name)


@pytest.mark.parametrize("name,content,expected", [
    ("pred.csv", HEADER + "KH,partof,Tahalof Nabni,al-Iraqiya TV,2023-08-22\n",
     "pred.csv:2:4: unknown predicate 'partof'; did you mean 'memberOf'?"),
    ("cols.csv", "subject,predicate,object,date\n" + "KH,participatesIn,Hoquq,2023-08-22\n",
     "cols.csv:1:1: missing required column(s) source; the header needs subject, predicate, object, source"),
    ("date.csv", HEADER + GOOD_ROW.replace("2023-08-30", "2023-08-32"),
     "date.csv:2:68: date '2023-08-32' is not an ISO 8601 date; write it as YYYY-MM-DD"),
    ("date2.csv", HEADER + GOOD_ROW.replace("2023-08-30", "30/08/2023"),
     "date2.csv:2:68: date '30/08/2023' is not an ISO 8601 date; write it as YYYY-MM-DD"),
    ("rel.csv", HEADER.strip() + ",reliability\n" + GOOD_ROW.strip() + ",G\n",
     "rel.csv:2:79: reliability 'G' is not allowed; use one of A, B, C, D, E, F"),
    ("cred.csv", HEADER.strip() + ",credibility\n" + GOOD_ROW.strip() + ",7\n",
     "cred.csv:2:79: credibility '7' is not allowed; use one of 1, 2, 3, 4, 5, 6"),
    ("tlp.csv", HEADER.strip() + ",tlp\n" + GOOD_ROW.strip() + ",PURPLE\n",
     "tlp.csv:2:79: tlp 'PURPLE' is not allowed; use one of CLEAR, GREEN, AMBER, AMBER+STRICT, RED"),
    ("type.csv", HEADER + "KH,participatesIn,Tahalof Nabni,al-Iraqiya TV,2023-08-22\n",
     "type.csv:2:19: object cfid:tahalof-nabni is not a cfkb:Election, as cfkb:participatesIn needs"
     " (cell 'Tahalof Nabni'); fix the row and import again"),
    ("type2.csv", HEADER + "December 2023 provincial elections,leads,Hoquq,al-Iraqiya TV,2023-08-22\n",
     "type2.csv:2:1: subject cfid:iraq-provincial-elections-2023 is not a cfkb:Actor, as cfkb:leads needs"
     " (cell 'December 2023 provincial elections'); fix the row and import again"),
    ("nodate.csv", "subject,predicate,object,source\nKH,participatesIn,December 2023 provincial elections,"
                   "al-Iraqiya TV\n",
     "nodate.csv:2:1: a claim needs one date it was stated on, as xsd:date (YYYY-MM-DD); fix the row and"
     " import again"),
    ("unknown.csv", HEADER + "Kataib Hezbolla Brigade,participatesIn,December 2023 provincial elections,"
                             "al-Iraqiya TV,2023-08-22\n",
     "unknown.csv:2:1: subject: unknown entity 'Kataib Hezbolla Brigade'; did you mean 'Kataib Hezbollah'"
     " [ArmedGroup: similar spelling, 77%]?"
     " (add it with 'cfkb entity add' or import with --create-entities)"),
    ("negated.csv", HEADER.strip() + ",negated\n" + GOOD_ROW.strip() + ",perhaps\n",
     "negated.csv:2:79: negated 'perhaps' is not a yes/no value; write true or false"),
    ("empty.csv", "", "empty.csv: the file is empty; nothing to import"),
    ("blank.ttl", "  \n\n", "blank.ttl: the file is empty; nothing to import"),
    ("header-only.csv", HEADER, "header-only.csv:2:1: the table has a header but no rows; nothing to import"),
    ("empty.yaml", "claims: []\n", "empty.yaml:1:9: the list of claims is empty; nothing to import"),
    ("comments.ttl", "# nothing but a comment\n", "comments.ttl: the file holds no triples; nothing to import"),
])
def test_bad_table_and_file_errors(runner, store_path, tmp_path, name, content, expected):
    assert _fails(runner, store_path, tmp_path, name, content) == expected


def test_ambiguous_name_lists_every_candidate(runner, store_path, tmp_path):
    invoke(runner, store_path, "entity", "add", "Hadi al-Amiri", "--type", "Person", "--force")
    message = _fails(runner, store_path, tmp_path, "amb.csv",
                     HEADER + "Hadi el-Amery,leads,Badr,al-Iraqiya TV,2023-08-22\n")
    assert message.startswith("amb.csv:2:1: ambiguous name 'Hadi el-Amery' matches 2 entities:")
    assert "cfkb/id/hadi-al-ameri>" in message and "cfkb/id/hadi-al-amiri>" in message
    assert "use a cfid: CURIE or the full IRI" in message


@pytest.mark.parametrize("name,content,expected", [
    ("bad.ttl", "@prefix cfid: <https://w3id.org/cfkb/id/> .\ncfid:a cfid:b cfid:c .\ncfid:a cfid:b \"x .\n",
     "bad.ttl:3:15:"),
    ("bad.trig", "@prefix cfid: <https://w3id.org/cfkb/id/> .\ncfid:g {\n  cfid:a cfid:b cfid:c \n",
     "bad.trig:4:1:"),
    ("bad.nt", "<http://x/a> <http://x/b> <http://x/c> .\n<http://x/a> <http://x/b> .\n", "bad.nt:2:"),
    ("bad.nq", "<http://x/a> <http://x/b> <http://x/c> <http://x/g> <http://x/h> .\n", "bad.nq:1:"),
    ("bad.jsonld", '{\n  "@id": "http://x/a",\n  "http://x/p": [1, 2,\n}\n', "bad.jsonld:4:1: JSON syntax error"),
])
def test_rdf_syntax_errors_name_line_and_column(runner, store_path, tmp_path, name, content, expected):
    message = _fails(runner, store_path, tmp_path, name, content)
    assert message.startswith(expected), message
    assert message.endswith("import again"), message


def test_jsonld_errors_beyond_json_syntax_are_clear(runner, store_path, tmp_path):
    doc = {"@id": "http://x/a", "http://x/p": {"@value": 3, "@type": 5}}
    message = _fails(runner, store_path, tmp_path, "typed.jsonld", json.dumps(doc))
    assert message == "typed.jsonld: @type value must be a string; fix the syntax and import again"


@pytest.mark.parametrize("name,content,expected", [
    ("utf16.csv", (HEADER + GOOD_ROW).encode("utf-16"), "utf16.csv:1:1: the file is UTF-16"),
    ("utf16be.ttl", "<http://x/a> <http://x/b> <http://x/c> .\n".encode("utf-16-be"),
     "utf16be.ttl:1:1: the file is UTF-16"),
    ("latin1.csv", (HEADER + "Hoquq,memberOf,Tahalof Nabni,al-Iraqiya TV,2023-08-22\n"
                    "Caf\u00e9,memberOf,Tahalof Nabni,al-Iraqiya TV,2023-08-22\n").encode("latin-1"),
     "latin1.csv:3:4: byte 0xe9 is not UTF-8 (Latin-1 or Windows-1252?); save the file as UTF-8 and import again"),
    ("latin1.ttl", '<http://x/a> <http://x/b> "Caf\u00e9" .\n'.encode("latin-1"),
     "latin1.ttl:1:31: byte 0xe9 is not UTF-8"),
])
def test_wrong_encodings_are_refused_with_where(runner, store_path, tmp_path, name, content, expected):
    assert _fails(runner, store_path, tmp_path, name, content).startswith(expected)


@pytest.mark.parametrize("name,content", [
    ("a.rdf", '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'),
    ("a.owl", "<rdf:RDF/>"),
    ("a.trix", "<TriX/>"),
    ("a.ttl", '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'),
    ("a.nt", '<!DOCTYPE html>\n<html></html>'),
    ("a.csv", '<!DOCTYPE lolz [<!ENTITY lol "lol">]>\nsubject,predicate,object,source\n'),
    ("a.jsonld", '<?xml version="1.0"?><TriX xmlns="http://www.w3.org/2004/03/trix/trix-1/"/>'),
])
def test_xml_trix_and_doctype_are_refused_outright(runner, store_path, tmp_path, name, content):
    message = _fails(runner, store_path, tmp_path, name, content)
    assert "not accepted" in message


@pytest.mark.parametrize("context", [
    "http://example.org/context.jsonld",
    ["https://schema.org/", {"x": "http://x/"}],
    {"@import": "http://example.org/ctx.jsonld"},
    "file:///etc/passwd",
    {"nested": {"@id": "http://x/n", "@context": "http://example.org/scoped"}},
])
def test_remote_jsonld_contexts_are_never_fetched(runner, store_path, tmp_path, context):
    doc = {"@context": context, "@id": "http://x/a", "http://x/p": "v"}
    message = _fails(runner, store_path, tmp_path, "partner.jsonld", json.dumps(doc))
    assert "not fetched" in message and "inline the context" in message


def test_bundled_cfkb_context_is_used_not_fetched(runner, store_path, tmp_path):
    doc = {
        "@context": "https://w3id.org/cfkb/context.jsonld",
        "@graph": [{
            "@id": "cfid:claim/partner-1", "@type": "Claim",
            "subject": "cfid:kataib-hezbollah", "predicate": "cfkb:participatesIn",
            "object": "cfid:iraq-provincial-elections-2023", "negated": "true",
            "statedIn": "cfid:al-iraqiya-tv", "statedOn": "2023-09-30",
            "attributedTo": "cfid:qais-al-khazali",
        }],
    }
    path = tmp_path / "partner.jsonld"
    path.write_text(json.dumps(doc))
    before = claim_count(store_path)
    result = invoke(runner, store_path, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "1 claim(s) added" in result.stderr
    assert claim_count(store_path) == before + 1


def test_byte_order_marks_are_accepted(runner, store_path, tmp_path):
    csv_path = tmp_path / "bom.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + (HEADER + GOOD_ROW).encode("utf-8"))
    ttl_path = tmp_path / "bom.ttl"
    ttl_path.write_bytes(b"\xef\xbb\xbf@prefix cfid: <https://w3id.org/cfkb/id/> .\n"
                         b"cfid:kataib-hezbollah cfid:note \"x\" .\n")
    result = invoke(runner, store_path, "import", str(csv_path), str(ttl_path))
    assert result.exit_code == 0, result.output
    assert "1 claim(s) added" in result.stderr


def test_several_files_are_one_transaction(runner, store_path, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD_ROW)
    bad = tmp_path / "bad.ttl"
    bad.write_text("<http://x/a> <http://x/b> .\n")
    before = store_state(store_path)
    result = invoke(runner, store_path, "import", str(good), str(bad))
    assert result.exit_code == 1
    assert f"{bad}:1:" in result.stderr
    assert store_state(store_path) == before


def test_error_in_a_later_row_rolls_back_the_earlier_rows(runner, store_path, tmp_path):
    rows = HEADER + GOOD_ROW + GOOD_ROW.replace("2023-08-30", "2023-08-31") + "KH,partof,Hoquq,Al Iraqiya,2023-08-22\n"
    message = _fails(runner, store_path, tmp_path, "later.csv", rows)
    assert message.startswith("later.csv:4:4: unknown predicate 'partof'")


def test_unknown_file_extension_asks_for_format(runner, store_path, tmp_path):
    message = _fails(runner, store_path, tmp_path, "claims.txt", HEADER + GOOD_ROW)
    assert "cannot tell the format from the file name; pass --format" in message


def test_stdin_needs_format_and_imports_with_it(runner, store_path):
    result = invoke(runner, store_path, "import", "-", input=HEADER + GOOD_ROW)
    assert result.exit_code == 2
    assert "needs --format" in result.stderr
    result = invoke(runner, store_path, "import", "--format", "csv", "-", input=HEADER + GOOD_ROW)
    assert result.exit_code == 0, result.output
    assert "imported <stdin>: 1 claim(s) added" in result.stderr


def test_stdin_errors_are_located_too(runner, store_path):
    before = store_state(store_path)
    result = invoke(runner, store_path, "import", "--format", "turtle", "-", input="<http://x/a> <http://x/b> .\n")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: <stdin>:1:")
    assert store_state(store_path) == before


def test_verbose_lists_every_shape_problem(runner, store_path, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text(HEADER + "KH,participatesIn,Tahalof Nabni,al-Iraqiya TV,2023-08-22\n"
                             "Hoquq,participatesIn,Tahalof Nabni,al-Iraqiya TV,2023-08-22\n")
    result = invoke(runner, store_path, "import", "--verbose", str(path))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"problem 1/2: {path}:2:19:")
    assert lines[1].startswith(f"problem 2/2: {path}:3:22:")
    assert lines[-1].startswith(f"Error: {path}:2:19:") and "(and 1 more problem(s))" in lines[-1]


@pytest.mark.parametrize("name,content,expected", [
    ("syntax.yaml", "claims:\n  - {subject: KH, predicate: leads\n  - x\n",
     "syntax.yaml:4:1: YAML syntax error: expected ',' or '}'"),
    ("anchors.yaml", "claims:\n  - &a {subject: KH}\n  - *a\n",
     "syntax.yaml"),
    ("nested.yaml", "claims:\n  - subject: [KH, Hoquq]\n    predicate: leads\n    object: Badr\n    source: x\n",
     "nested.yaml:2:14: subject must be a single value, not a list or mapping"),
    ("missing.yaml", "claims:\n  - {subject: KH, predicate: leads, object: Badr}\n",
     "missing.yaml:2:5: claim lacks required key(s) source"),
    ("column.yaml", "claims:\n  - {subjcet: KH, predicate: leads, object: Badr, source: x}\n",
     "column.yaml:2:6: unknown column 'subjcet'; did you mean 'subject'?"),
    ("nul.yaml", "claims:\n  - {subject: K\x00H}\n", "nul.yaml:2:16: character #x0000 is not allowed in YAML"),
])
def test_yaml_errors(runner, store_path, tmp_path, name, content, expected):
    message = _fails(runner, store_path, tmp_path, name, content)
    if name == "anchors.yaml":
        assert message == ("anchors.yaml:2:5: YAML anchors and aliases are not accepted in claim tables;"
                           " write values out")
    else:
        assert message.startswith(expected), message


def test_bom_accepted_in_yaml_and_jsonld(runner, store_path, tmp_path):
    yaml_path = tmp_path / "bom.yaml"
    yaml_path.write_bytes(b"\xef\xbb\xbf" + (
        b"claims:\n  - {subject: KH, predicate: participatesIn, object: December 2023 provincial elections,"
        b" source: al-Iraqiya TV, date: 2023-08-30}\n"))
    jsonld_path = tmp_path / "bom.jsonld"
    jsonld_path.write_bytes(b'\xef\xbb\xbf{"@id": "https://w3id.org/cfkb/id/kataib-hezbollah",'
                            b' "https://w3id.org/cfkb/ns#note": "x"}')
    result = invoke(runner, store_path, "import", str(yaml_path), str(jsonld_path))
    assert result.exit_code == 0, result.output


_OPENED: list[str] | None = None


def _record_opens(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open":
        _OPENED.append(str(args[0]))


def test_parsing_never_opens_other_files(tmp_path):
    """Inputs that name other files are parsed without any file being opened."""
    import sys

    from cfkb.io.rdfio import parse_rdf
    from cfkb.io.tables import read_rows

    global _OPENED
    secret = tmp_path / "secret.ttl"
    secret.write_text("<http://x/s> <http://x/p> <http://x/o> .\n")
    inputs = [
        ("a.ttl", f"@base <file://{tmp_path}/> .\n<secret.ttl> <http://x/p> <file://{secret}> .\n", "turtle"),
        ("a.trig", f"<file://{secret}> {{ <http://x/a> <http://x/b> <http://x/c> . }}\n", "trig"),
        ("a.jsonld", json.dumps({"@id": f"file://{secret}", "http://x/p": {"@id": f"file://{secret}"}}), "jsonld"),
        ("a.csv", f"subject,predicate,object,source\nfile://{secret},leads,<file://{secret}>,x\n", "csv"),
        ("a.yaml", f"claims:\n  - {{subject: 'file://{secret}', predicate: leads, object: x, source: y}}\n", "yaml"),
    ]
    sys.addaudithook(_record_opens)
    _OPENED = []
    try:
        for name, text, fmt in inputs:
            data = text.encode()
            if fmt in ("csv", "yaml"):
                list(read_rows(name, data, fmt))
            else:
                parse_rdf(name, data, fmt)
        assert _OPENED == []
    finally:
        _OPENED = None


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_a_csv_row_is_located_after_a_cell_that_holds_a_line_separator(end):
    """Line endings as a file read with newline="" sees them; a line or paragraph separator,
    a form feed or a group separator inside a quoted cell is no line end."""
    from cfkb.errors import ParseError
    from cfkb.io.tables import read_rows

    text = end.join(["subject,predicate,object,source,quote",
                     'KH,memberOf,PMF,Al-Rabaa TV,"a\u2028b\u2029c\x0cd\x1ce"',
                     'KH,memberOf,"two', 'lines",Al-Rabaa TV,', "KH,memberOf,,Al-Rabaa TV", ""])
    rows = read_rows("t.csv", text.encode(), "csv")
    first, second = next(rows), next(rows)
    assert (first.line, first.values["quote"]) == (2, "a\u2028b\u2029c\x0cd\x1ce")
    assert (second.line, second.values["object"]) == (3, "two" + end + "lines")
    with pytest.raises(ParseError) as info:
        next(rows)
    assert (info.value.line, info.value.column) == (5, len("KH,memberOf,") + 1)
    assert "no object" in str(info.value)
