"""Mutated valid files: a clear error or a valid import, never a traceback, never a half import (issue 5)."""

from __future__ import annotations

import random

import pytest

from cfkb.errors import CfkbError
from cfkb.io.importer import InputFile, import_into, seed_files
from cfkb.store.core import KnowledgeBase
from claimfiles import claims_in, write_claims
from conftest import FIXTURES
from storestate import store_state

MUTANTS_PER_FORMAT = 16


def _mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["flip", "truncate", "shuffle", "delete", "duplicate", "insert"])
    if not data:
        return data
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    if kind == "delete":
        at = rng.randrange(len(data))
        return data[:at] + data[at + rng.randint(1, 20):]
    if kind == "insert":
        at = rng.randrange(len(data))
        return data[:at] + rng.choice([b'"', b"<", b",", b"\n", b"{", b"\x00", b"\xff", b"@", b";"]) + data[at:]
    lines = data.split(b"\n")
    if kind == "shuffle":
        rng.shuffle(lines)
    else:
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines)), lines[i])
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def valid_files(seed_template) -> dict[str, bytes]:
    kb = KnowledgeBase.open(seed_template)
    claims = sorted(claims_in(kb), key=lambda c: c.iri)[:12]
    kb.close()
    csv_lines = (FIXTURES / "import" / "analyst-seed-claims.csv").read_bytes().split(b"\n")
    yaml = next(f.data for f in seed_files() if f.name.endswith(".yaml"))
    return {
        "csv": b"\n".join(csv_lines[:14]) + b"\n",
        "yaml": yaml[:4000].rsplit(b"\n  - ", 1)[0] + b"\n",
        "turtle": write_claims(claims, "turtle"),
        "trig": write_claims(claims, "trig"),
        "jsonld": write_claims(claims, "jsonld"),
        "nq": write_claims(claims, "nq"),
    }


@pytest.mark.parametrize("fmt", ["csv", "yaml", "turtle", "trig", "jsonld", "nq"])
def test_mutated_files_give_a_clear_error_or_a_whole_import(store_path, valid_files, fmt):
    rng = random.Random(f"cfkb-fuzz-{fmt}")
    outcomes = {"error": 0, "imported": 0}
    for n in range(MUTANTS_PER_FORMAT):
        mutant = _mutate(valid_files[fmt], rng)
        before = store_state(store_path)
        kb = KnowledgeBase.open(store_path)
        claims_before = kb.claim_count()
        kb.close()
        try:
            report = import_into(store_path, [InputFile(f"mutant-{n}.{fmt}", mutant, fmt)], analyst="fuzz",
                                 create_entities=bool(n % 2))
        except CfkbError as exc:
            message = str(exc)
            assert message.startswith(f"mutant-{n}.{fmt}"), message
            assert "\n" not in message and len(message) < 2000, message
            assert store_state(store_path) == before, f"mutant {n} changed the store: {message}"
            outcomes["error"] += 1
        else:
            kb = KnowledgeBase.open(store_path)
            assert kb.claim_count() == claims_before + len(report.claims_added)
            kb.close()
            outcomes["imported"] += 1
    assert outcomes["error"] > 0
