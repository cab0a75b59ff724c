"""A one-claim command loads what it uses: the modules only some commands
need (the YAML parser, fuzzy matching, the remote client) stay unloaded
when a command on a store directory does not need them."""

from __future__ import annotations

import json
import subprocess
import sys

#: modules a one-claim command on a store directory has no use for
UNUSED = ("yaml", "rapidfuzz", "ssl", "cfkb.store.remote", "rdflib", "pyshacl")

_PROBE = """
import json, sys
from cfkb.cli import cli
try:
    cli(sys.argv[1:], prog_name="cfkb")
finally:
    print(json.dumps(sorted(m for m in {unused!r} if m in sys.modules)), file=sys.stderr)
"""


def _loaded(store, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE.format(unused=UNUSED), "--store", str(store), *args],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_claim_add_loads_no_parser_it_does_not_use(store_path):
    assert _loaded(store_path, "claim", "add", "--subject", "Hoquq", "--predicate", "memberOf",
                   "--object", "Safwa", "--source", "al-Sharqiya TV", "--date", "2023-09-04") == []


def test_a_name_not_found_loads_fuzzy_matching(store_path):
    """The probe can see a module load: an unknown name brings in the fuzzy matcher for its suggestions."""
    probe = subprocess.run([sys.executable, "-c", _PROBE.format(unused=UNUSED), "--store", str(store_path),
                            "claim", "add", "--subject", "Hoquqq", "--predicate", "memberOf",
                            "--object", "Safwa", "--source", "al-Sharqiya TV"], capture_output=True, text=True)
    assert probe.returncode != 0
    assert json.loads(probe.stderr.strip().splitlines()[-1]) == ["rapidfuzz"]


def test_validate_of_one_row_loads_no_parser_it_does_not_use(store_path, tmp_path):
    table = tmp_path / "one.csv"
    table.write_text("subject,predicate,object,source,date\n"
                     "Hoquq,memberOf,Safwa,al-Sharqiya TV,2023-09-04\n", encoding="utf-8")
    assert _loaded(store_path, "validate", str(table)) == []
