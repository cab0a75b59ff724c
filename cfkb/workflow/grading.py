"""Grading: the credibility of a claim and the reliability of a source, each an assessment."""

from __future__ import annotations

import datetime as dt

import pyoxigraph as ox

from cfkb.errors import InputError
from cfkb.model.vocabulary import CFKB, RELIABILITY, XSD
from cfkb.store.core import KnowledgeBase
from cfkb.workflow.decisions import _assessment, _now, _replace, resolve_claim


def grade_claim(kb: KnowledgeBase, claim_id: str, credibility: int, *, analyst: str,
                when: dt.datetime | None = None) -> str:
    """Set the Admiralty credibility (1-6) of a claim."""
    if credibility not in range(1, 7):
        raise InputError(f"credibility must be 1-6, not {credibility}")
    claim = resolve_claim(kb, claim_id)
    value = ox.Literal(str(credibility), datatype=XSD.integer)
    _, add = _assessment(kb, claim, analyst, when or _now(), credibility=value)
    a, r = _replace(kb, ox.NamedNode(claim), CFKB.credibility, value)
    kb.write(add=add + a, remove=r, keeps_conflicts=True)
    return claim


def rate_source(kb: KnowledgeBase, source: str, reliability: str, *, analyst: str,
                when: dt.datetime | None = None) -> None:
    """Set the Admiralty reliability (A-F) of a source (an outlet, document or speaker IRI).

    A grade given on a claim itself (at import) takes precedence over the source's.
    """
    reliability = reliability.strip().upper()
    if reliability not in RELIABILITY:
        raise InputError(f"reliability must be one of {', '.join(RELIABILITY)}, not {reliability!r}")
    value = ox.Literal(reliability)
    _, add = _assessment(kb, source, analyst, when or _now(), reliability=value)
    a, r = _replace(kb, ox.NamedNode(source), CFKB.reliability, value)
    kb.write(add=add + a, remove=r, keeps_conflicts=True)
