"""Synthetic claims with planted conflicts and exact ground truth.

``generate(n, seed)`` builds ``n`` :class:`cfkb.model.vocabulary.Claim` objects plus the
background quads they need (a gazetteer of provinces, regions that include
them, elections, outlets, persons, organisations and lists, and a few
"political wing" relations), and the set of conflicts a correct engine must
find: ``(rule IRI, frozenset of the two claim IRIs)``.

Claims come in small *scenarios*. Each scenario has its own subject entities,
so no two scenarios can interact, and each one states the conflicts it
plants: direct contradictions (with every kind of area overlap), derived ones
(through ``memberOf``/``runsAs`` plus ``contests``, and through a political
wing), functional ones (two lists for one faction in overlapping areas),
revisions (the same speaker later says otherwise), and distractors that look
alike but must not conflict (disjoint areas, other elections, sub-lists,
"no indication", the same claim said twice). The rest of the claims are
consistent background talk about a few busy "hub" entities, which gives the
queries realistic fan-out.

Command line (streams, so 1M claims fit in modest memory)::

    python -m bench.generate 100000 -o claims.nq --truth truth.tsv
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from cfkb.model.vocabulary import CFID_NS, CFKB, CFKB_NS, RDF, RDFS, Claim, background_quads

SHAPES_NS = "https://w3id.org/cfkb/shapes#"
DIRECT = SHAPES_NS + "DirectConflict"
MEMBERSHIP = SHAPES_NS + "MembershipImpliesParticipation"
WING = SHAPES_NS + "WingImpliesParticipation"
FUNCTIONAL = SHAPES_NS + "FunctionalConflict"
REVISION = SHAPES_NS + "Revision"
REVISION_REASSERTED = SHAPES_NS + "RevisionReasserted"
REVISION_OF_VALUE = SHAPES_NS + "RevisionOfValue"
RULES = (DIRECT, MEMBERSHIP, WING, FUNCTIONAL, REVISION, REVISION_REASSERTED, REVISION_OF_VALUE)

Key = tuple[str, frozenset[str]]

B = CFID_NS + "b/"
P = {name: CFKB_NS + name for name in (
    "participatesIn", "memberOf", "runsAs", "contests", "supports", "leads", "allianceWith",
    "politicalWingOf", "competesWith")}
NO_INDICATION = "NoIndication"
DAY0 = dt.date(2023, 1, 1)
#: how many busy groups ``busy`` talk is about
BUSY_GROUPS = 20


# -- the synthetic gazetteer ------------------------------------------------

#: Region -> what it includes. Five regions of five provinces; a corridor
#: that shares a province with each of two regions (two regions overlap
#: without either including the other); a super-region made of two regions
#: (``includes+`` over two steps). p25..p29 belong to no region.
PROVINCES = [f"p{i:02d}" for i in range(30)]
REGIONS: dict[str, list[str]] = {f"r{r}": PROVINCES[5 * r: 5 * r + 5] for r in range(5)}
REGIONS["corridor"] = ["p04", "p05"]
REGIONS["super"] = ["r2", "r3"]


def _leaves(area: str) -> set[str]:
    """Everything an area includes, transitively (not itself)."""
    out: set[str] = set()
    todo = list(REGIONS.get(area, ()))
    while todo:
        a = todo.pop()
        if a not in out:
            out.add(a)
            todo.extend(REGIONS.get(a, ()))
    return out


def overlaps(a: str | None, b: str | None) -> bool:
    """The rules' area overlap: no area, the same area, one includes the
    other, or both include a common area."""
    if a is None or b is None or a == b:
        return True
    la, lb = _leaves(a), _leaves(b)
    return b in la or a in lb or bool(la & lb)


AREAS = PROVINCES + list(REGIONS)
OVERLAPPING = [(a, b) for a in AREAS for b in AREAS if overlaps(a, b)]
DISJOINT = [(a, b) for a in AREAS for b in AREAS if not overlaps(a, b)]
#: Overlap kinds the generator plants on purpose, each (area A, area B).
OVERLAP_KINDS: dict[str, list[tuple[str | None, str | None]]] = {
    "same province": [(p, p) for p in PROVINCES],
    "same region": [(r, r) for r in REGIONS],
    "region and its province": [(r, p) for r, ps in REGIONS.items() for p in ps if p in PROVINCES],
    "nested region and province": [("super", p) for p in _leaves("super") if p in PROVINCES],
    "regions sharing a province": [("corridor", "r0"), ("r1", "corridor")],
    "no area and a province": [(None, p) for p in PROVINCES],
    "region and no area": [(r, None) for r in REGIONS],
    "no area on either": [(None, None)],
}


def iri(local: str) -> str:
    return B + local


# -- scenarios ---------------------------------------------------------------

@dataclass
class Scenario:
    """Claims that belong together, the background they need and the
    conflicts they plant."""

    kind: str
    claims: list[Claim] = field(default_factory=list)
    background: list[ox.Quad] = field(default_factory=list)
    truth: set[Key] = field(default_factory=set)


@dataclass
class Dataset:
    """Generated claims, their background and the exact expected conflicts."""

    n_claims: int
    seed: int
    background: list[ox.Quad]
    claims: list[Claim]
    truth: set[Key]
    kinds: dict[str, int] = field(default_factory=dict)

    def quads(self) -> Iterator[ox.Quad]:
        """Background first, then every claim's quads (default graph)."""
        yield from self.background
        for c in self.claims:
            yield from c.quads()

    def truth_involving(self, claim_iris: set[str]) -> set[Key]:
        return {k for k in self.truth if k[1] & claim_iris}


class Generator:
    """Yields scenarios until ``n`` claims have been produced."""

    def __init__(self, n: int, seed: int = 0, *, busy: float = 0.0) -> None:
        self.n = n
        self.rng = random.Random(seed)
        #: share of the claims about the busy groups (see :meth:`busy_talk`)
        self.busy = busy
        self.busy_groups = [iri(f"busy-{i}") for i in range(BUSY_GROUPS)] if busy else []
        self.persons = [iri(f"person-{i}") for i in range(max(40, n // 40))]
        self.outlets = [iri(f"outlet-{i}") for i in range(max(10, n // 400))]
        self.elections = [iri(f"election-{i}") for i in range(max(4, min(40, n // 5000)))]
        self.hubs = [iri(f"hub-{i}") for i in range(max(10, n // 500))]
        self.hub_lists = [iri(f"hub-list-{i}") for i in range(max(5, n // 2000))]
        self._serial = 0
        self._noise_seen: set[str] = set()

    # -- background ----------------------------------------------------

    def gazetteer(self) -> list[ox.Quad]:
        q: list[ox.Quad] = []

        def entity(e: str, cls: str, label: str) -> None:
            node = ox.NamedNode(e)
            q.append(ox.Quad(node, RDF.type, CFKB.term(cls)))
            q.append(ox.Quad(node, RDFS.label, ox.Literal(label, language="en")))

        for p in PROVINCES:
            entity(iri(p), "Province", f"Province {p}")
        for r, parts in REGIONS.items():
            entity(iri(r), "Region", f"Region {r}")
            for part in parts:
                q.append(ox.Quad(ox.NamedNode(iri(r)), CFKB.includes, ox.NamedNode(iri(part))))
        for e in self.elections:
            entity(e, "Election", e.rsplit("/", 1)[-1].replace("-", " ").title())
        for o in self.outlets:
            entity(o, "MediaOutlet", o.rsplit("/", 1)[-1].replace("-", " ").title())
        for p in self.persons:
            entity(p, "Person", p.rsplit("/", 1)[-1].replace("-", " ").title())
        for h in self.hubs:
            entity(h, "Party", h.rsplit("/", 1)[-1].replace("-", " ").title())
        for h in self.hub_lists:
            entity(h, "ElectoralList", h.rsplit("/", 1)[-1].replace("-", " ").title())
        for g in self.busy_groups:
            entity(g, "Party", g.rsplit("/", 1)[-1].replace("-", " ").title())
            for p in PROVINCES:
                entity(f"{g}-list-{p}", "ElectoralList", f"{g.rsplit('/', 1)[-1].title()} list {p}")
        return q

    # -- helpers ---------------------------------------------------------

    def fresh(self, s: Scenario, cls: str, stem: str) -> str:
        self._serial += 1
        e = iri(f"{stem}-{self._serial}")
        node = ox.NamedNode(e)
        s.background.append(ox.Quad(node, RDF.type, CFKB.term(cls)))
        s.background.append(ox.Quad(node, RDFS.label, ox.Literal(f"{stem.title()} {self._serial}", language="en")))
        return e

    def date(self, lo: int = 0, hi: int = 300) -> dt.date:
        return DAY0 + dt.timedelta(days=self.rng.randint(lo, hi))

    def voices(self, k: int) -> list[tuple[str | None, str]]:
        """k (speaker, outlet) pairs with k different attributions."""
        speakers = self.rng.sample(self.persons, k)
        out: list[tuple[str | None, str]] = []
        for sp in speakers:
            out.append((sp, self.rng.choice(self.outlets)))
        # sometimes an outlet speaks for itself; keep attributions distinct
        if k >= 1 and self.rng.random() < 0.2:
            used = {sp for sp, _ in out[1:]} | {o for sp, o in out[1:] if sp is None}
            free = [o for o in self.outlets if o not in used]
            if free:
                out[0] = (None, self.rng.choice(free))
        return out

    def overlap(self) -> tuple[str | None, str | None]:
        kind = self.rng.choice(list(OVERLAP_KINDS))
        a, b = self.rng.choice(OVERLAP_KINDS[kind])
        a, b = (a, b) if self.rng.random() < 0.5 else (b, a)
        return (iri(a) if a else None), (iri(b) if b else None)

    def disjoint(self) -> tuple[str, str]:
        a, b = self.rng.choice(DISJOINT)
        return iri(a), iri(b)

    def election_pair(self, e: str) -> tuple[str | None, str | None]:
        return self.rng.choice([(e, e), (e, e), (e, None), (None, e), (None, None)])

    def claim(self, s: Scenario, subject: str, pred: str, obj: str, voice: tuple[str | None, str], *,
              negated: bool = False, area: str | None = None, election: str | None = None,
              date: dt.date | None = None, modality: str | None = None) -> Claim:
        speaker, outlet = voice
        c = Claim(subject=subject, predicate=P[pred], object=obj, source=outlet, speaker=speaker,
                  negated=negated, area=area, election=election, date=date or self.date(),
                  modality=modality, reliability=self.rng.choice("ABCDEF"),
                  credibility=self.rng.randint(1, 6), tlp="CLEAR")
        s.claims.append(c)
        return c

    @staticmethod
    def expect(s: Scenario, rule: str, a: Claim, b: Claim) -> None:
        s.truth.add((rule, frozenset({a.iri, b.iri})))

    # -- direct ----------------------------------------------------------

    def _triple(self, s: Scenario) -> tuple[str, str, str, str]:
        """A fresh subject, a predicate, an object and an election."""
        e = self.rng.choice(self.elections)
        pred = self.rng.choice(["participatesIn", "participatesIn", "supports", "memberOf", "allianceWith"])
        x = self.fresh(s, "Party", "faction")
        if pred == "participatesIn":
            return x, pred, e, e
        if pred == "allianceWith":
            return x, pred, self.fresh(s, "Party", "ally"), e
        return x, pred, self.fresh(s, "ElectoralList", "list"), e

    def direct(self) -> Scenario:
        s = Scenario("direct")
        x, pred, o, e = self._triple(s)
        (va, vb), (ea, eb) = self.voices(2), self.election_pair(e)
        aa, ab = self.overlap()
        pos = self.claim(s, x, pred, o, va, area=aa, election=ea)
        neg = self.claim(s, x, pred, o, vb, negated=True, area=ab, election=eb)
        self.expect(s, DIRECT, pos, neg)
        return s

    def direct_same_day_same_speaker(self) -> Scenario:
        """One speaker says both on one day: a contradiction, not a revision."""
        s = Scenario("direct: same speaker, same day")
        x, pred, o, e = self._triple(s)
        v, d = self.voices(1)[0], self.date()
        pos = self.claim(s, x, pred, o, v, election=e, date=d)
        neg = self.claim(s, x, pred, o, v, negated=True, election=e, date=d)
        self.expect(s, DIRECT, pos, neg)
        return s

    def controversy(self) -> Scenario:
        """Several sources for, several against: every for/against pair."""
        s = Scenario("direct: controversy")
        x, pred, o, e = self._triple(s)
        k, m = self.rng.randint(2, 4), self.rng.randint(1, 3)
        voices = self.voices(k + m)
        area = self.rng.choice([None, iri(self.rng.choice(PROVINCES))])
        pos = [self.claim(s, x, pred, o, v, area=area, election=e) for v in voices[:k]]
        neg = [self.claim(s, x, pred, o, v, negated=True, election=e) for v in voices[k:]]
        for a in pos:
            for b in neg:
                self.expect(s, DIRECT, a, b)
        return s

    def direct_distractor(self) -> Scenario:
        s = Scenario("direct: distractor")
        x, pred, o, e = self._triple(s)
        va, vb = self.voices(2)
        way = self.rng.randrange(4)
        if way == 0:  # different, non-overlapping areas
            aa, ab = self.disjoint()
            self.claim(s, x, pred, o, va, area=aa, election=e)
            self.claim(s, x, pred, o, vb, negated=True, area=ab, election=e)
        elif way == 1:  # different elections
            e2 = self.rng.choice([x for x in self.elections if x != e])
            self.claim(s, x, pred, o, va, election=e)
            self.claim(s, x, pred, o, vb, negated=True, election=e2)
        elif way == 2:  # "no indication" is neither for nor against
            noind = self.rng.random() < 0.5
            self.claim(s, x, pred, o, va, election=e, modality=NO_INDICATION if noind else None)
            self.claim(s, x, pred, o, vb, negated=True, election=e, modality=None if noind else NO_INDICATION)
        else:  # the same claim from two sources
            self.claim(s, x, pred, o, va, election=e)
            self.claim(s, x, pred, o, vb, election=e)
        return s

    # -- derived ---------------------------------------------------------

    def membership(self) -> Scenario:
        """X memberOf (or runsAs) L; L contests E; another source: X does not participate in E."""
        s = Scenario("derived: membership")
        x, lst = self.fresh(s, "Party", "faction"), self.fresh(s, "ElectoralList", "list")
        e = self.rng.choice(self.elections)
        pred = self.rng.choice(["memberOf", "runsAs"])
        vm, vn, vc = self.voices(3)
        am, an = self.overlap()
        member = self.claim(s, x, pred, lst, vm, area=am, election=self.rng.choice([e, None]))
        for v in [vc] + ([self.voices(1)[0]] if self.rng.random() < 0.3 else []):
            self.claim(s, lst, "contests", e, v, election=e)
        neg = self.claim(s, x, "participatesIn", e, vn, negated=True, area=an, election=e)
        self.expect(s, MEMBERSHIP, member, neg)
        return s

    def membership_distractor(self) -> Scenario:
        s = Scenario("derived: membership distractor")
        x, lst = self.fresh(s, "Party", "faction"), self.fresh(s, "ElectoralList", "list")
        e = self.rng.choice(self.elections)
        e2 = self.rng.choice([y for y in self.elections if y != e])
        vm, vn, vc = self.voices(3)
        way = self.rng.randrange(5)
        am, an = self.disjoint() if way == 0 else (None, None)
        self.claim(s, x, "memberOf", lst, vm, area=am, election=e2 if way == 4 else None,
                   modality=NO_INDICATION if way == 3 else None)
        self.claim(s, lst, "contests", e2 if way == 1 else e, vc, negated=way == 2)
        self.claim(s, x, "participatesIn", e, vn, negated=True, area=an, election=e)
        return s

    def wing(self) -> Scenario:
        """P is G's political wing; P participates in E (said, or through a
        contesting list); another source: G does not."""
        s = Scenario("derived: political wing")
        party, group = self.fresh(s, "Party", "party"), self.fresh(s, "ArmedGroup", "group")
        e = self.rng.choice(self.elections)
        vr, vn, vw, vc = self.voices(4)
        ar, an = self.overlap()
        if self.rng.random() < 0.5:
            s.background.extend(background_quads(party, CFKB.politicalWingOf.value, group))
        else:
            self.claim(s, party, "politicalWingOf", group, vw)
        if self.rng.random() < 0.5:
            root = self.claim(s, party, "participatesIn", e, vr, area=ar, election=e)
        else:
            lst = self.fresh(s, "ElectoralList", "list")
            root = self.claim(s, party, self.rng.choice(["memberOf", "runsAs"]), lst, vr, area=ar,
                              election=self.rng.choice([e, None]))
            self.claim(s, lst, "contests", e, vc, election=e)
        neg = self.claim(s, group, "participatesIn", e, vn, negated=True, area=an, election=e)
        self.expect(s, WING, root, neg)
        return s

    def wing_distractor(self) -> Scenario:
        s = Scenario("derived: political wing distractor")
        party, group = self.fresh(s, "Party", "party"), self.fresh(s, "ArmedGroup", "group")
        e = self.rng.choice(self.elections)
        vr, vn, vw = self.voices(3)
        way = self.rng.randrange(3)
        ar, an = self.disjoint() if way == 2 else (None, None)
        if way == 2:
            s.background.extend(background_quads(party, CFKB.politicalWingOf.value, group))
        else:  # the wing relation is denied, or only "no indication"
            self.claim(s, party, "politicalWingOf", group, vw, negated=way == 0,
                       modality=NO_INDICATION if way == 1 else None)
        self.claim(s, party, "participatesIn", e, vr, area=ar, election=e)
        self.claim(s, group, "participatesIn", e, vn, negated=True, area=an, election=e)
        return s

    # -- functional ------------------------------------------------------

    def functional(self) -> Scenario:
        s = Scenario("functional")
        x = self.fresh(s, "Party", "faction")
        l1, l2 = self.fresh(s, "ElectoralList", "list"), self.fresh(s, "ElectoralList", "list")
        e = self.rng.choice(self.elections)
        (va, vb), (ea, eb) = self.voices(2), self.election_pair(e)
        aa, ab = self.overlap()
        a = self.claim(s, x, "runsAs", l1, va, area=aa, election=ea)
        b = self.claim(s, x, "runsAs", l2, vb, area=ab, election=eb)
        self.expect(s, FUNCTIONAL, a, b)
        return s

    def functional_distractor(self) -> Scenario:
        s = Scenario("functional: distractor")
        x = self.fresh(s, "Party", "faction")
        l1, l2 = self.fresh(s, "ElectoralList", "list"), self.fresh(s, "ElectoralList", "list")
        e = self.rng.choice(self.elections)
        va, vb, vm = self.voices(3)
        way = self.rng.randrange(5)
        if way == 0:  # runs separately in one area and with others in another
            aa, ab = self.disjoint()
            self.claim(s, x, "runsAs", l1, va, area=aa, election=e)
            self.claim(s, x, "runsAs", l2, vb, area=ab, election=e)
        elif way == 1:  # a list and its own sub-list
            self.claim(s, x, "runsAs", l1, va, election=e)
            self.claim(s, x, "runsAs", l2, vb, election=e)
            sub, parent = (l2, l1) if self.rng.random() < 0.5 else (l1, l2)
            self.claim(s, sub, "memberOf", parent, vm)
        elif way == 2:  # two elections
            e2 = self.rng.choice([y for y in self.elections if y != e])
            self.claim(s, x, "runsAs", l1, va, election=e)
            self.claim(s, x, "runsAs", l2, vb, election=e2)
        elif way == 3:  # the same list from two sources
            self.claim(s, x, "runsAs", l1, va, election=e)
            self.claim(s, x, "runsAs", l1, vb, election=e)
        else:  # one of them is only "no indication"
            self.claim(s, x, "runsAs", l1, va, election=e)
            self.claim(s, x, "runsAs", l2, vb, election=e, modality=NO_INDICATION)
        return s

    # -- revision --------------------------------------------------------

    def revision(self) -> Scenario:
        s = Scenario("revision")
        e = self.rng.choice(self.elections)
        v = self.voices(1)[0]
        d1 = self.date(0, 200)
        d2 = d1 + dt.timedelta(days=self.rng.randint(1, 90))
        aa, ab = self.overlap()
        x = self.fresh(s, "Party", "faction")
        rule = REVISION
        if self.rng.random() < 0.6:  # says it, then denies it (or the reverse)
            first_neg = self.rng.random() < 0.3
            earlier = self.claim(s, x, "participatesIn", e, v, negated=first_neg, area=aa, election=e, date=d1)
            later = self.claim(s, x, "participatesIn", e, v, negated=not first_neg, area=ab, election=e, date=d2)
            rule = REVISION_REASSERTED if first_neg else REVISION
        else:  # names one list, later another
            l1, l2 = self.fresh(s, "ElectoralList", "list"), self.fresh(s, "ElectoralList", "list")
            earlier = self.claim(s, x, "runsAs", l1, v, area=aa, election=e, date=d1)
            later = self.claim(s, x, "runsAs", l2, v, area=ab, election=e, date=d2)
            rule = REVISION_OF_VALUE
        self.expect(s, rule, later, earlier)
        return s

    def revision_distractor(self) -> Scenario:
        s = Scenario("revision: distractor")
        e = self.rng.choice(self.elections)
        v = self.voices(1)[0]
        d1 = self.date(0, 200)
        d2 = d1 + dt.timedelta(days=self.rng.randint(1, 90))
        x = self.fresh(s, "Party", "faction")
        way = self.rng.randrange(3)
        if way == 0:  # says the same thing twice
            self.claim(s, x, "participatesIn", e, v, election=e, date=d1)
            self.claim(s, x, "participatesIn", e, v, election=e, date=d2)
        elif way == 1:  # later denies it, but for a different area
            aa, ab = self.disjoint()
            self.claim(s, x, "participatesIn", e, v, area=aa, election=e, date=d1)
            self.claim(s, x, "participatesIn", e, v, negated=True, area=ab, election=e, date=d2)
        else:  # later names the parent list of the sub-list it named
            l1, l2 = self.fresh(s, "ElectoralList", "list"), self.fresh(s, "ElectoralList", "list")
            self.claim(s, x, "runsAs", l1, v, election=e, date=d1)
            self.claim(s, x, "runsAs", l2, v, election=e, date=d2)
            self.claim(s, l1, "memberOf", l2, self.voices(1)[0])
        return s

    # -- background talk -------------------------------------------------

    def noise(self) -> Scenario:
        """One consistent claim about a hub entity (no negation, no functional predicate)."""
        s = Scenario("background")
        while True:
            pick = self.rng.randrange(6)
            hub = self.rng.choice(self.hubs)
            e = self.rng.choice(self.elections)
            if pick == 0:
                t = (hub, "participatesIn", e)
            elif pick == 1:
                t = (self.rng.choice(self.hub_lists), "contests", e)
            elif pick == 2:
                t = (hub, "memberOf", self.rng.choice(self.hub_lists))
            elif pick == 3:
                t = (hub, "supports", self.rng.choice(self.hub_lists))
            elif pick == 4:
                t = (self.rng.choice(self.persons), "leads", hub)
            else:
                t = (hub, "allianceWith", self.rng.choice(self.hubs))
            area = self.rng.choice([None, None, iri(self.rng.choice(AREAS))])
            c = Claim(subject=t[0], predicate=P[t[1]], object=t[2], source=self.rng.choice(self.outlets),
                      speaker=None if self.rng.random() < 0.1 else self.rng.choice(self.persons), area=area,
                      election=self.rng.choice([e, None]), date=self.date(),
                      reliability=self.rng.choice("ABCDEF"), credibility=self.rng.randint(1, 6), tlp="CLEAR")
            if c.iri not in self._noise_seen:
                self._noise_seen.add(c.iri)
                s.claims.append(c)
                return s

    def busy_talk(self) -> Scenario:
        """One claim about a busy group: it runs as one list per province, said
        again and again by many outlets (as real bases have for the big
        factions). Consistent: provinces do not overlap, so the group's lists
        in two provinces are no functional conflict, however many claims say so."""
        s = Scenario("busy")
        while True:
            g = self.rng.choice(self.busy_groups)
            p = self.rng.choice(PROVINCES)
            c = Claim(subject=g, predicate=P["runsAs"], object=f"{g}-list-{p}", source=self.rng.choice(self.outlets),
                      speaker=None if self.rng.random() < 0.3 else self.rng.choice(self.persons), area=iri(p),
                      election=self.rng.choice([self.elections[0], None]), date=self.date(),
                      reliability=self.rng.choice("ABCDEF"), credibility=self.rng.randint(1, 6), tlp="CLEAR")
            if c.iri not in self._noise_seen:
                self._noise_seen.add(c.iri)
                s.claims.append(c)
                return s

    PLANTED = (
        (direct, 6), (direct_same_day_same_speaker, 1), (controversy, 2), (direct_distractor, 6),
        (membership, 4), (membership_distractor, 4), (wing, 3), (wing_distractor, 2),
        (functional, 5), (functional_distractor, 5), (revision, 4), (revision_distractor, 3),
    )

    def scenarios(self, noise_share: float = 0.9) -> Iterator[Scenario]:
        """Scenarios until exactly ``n`` claims (the last one is trimmed to
        background talk if a planted one would overshoot)."""
        makers = [m for m, _ in self.PLANTED]
        weights = [w for _, w in self.PLANTED]
        made = 0
        while made < self.n:
            if self.busy and self.rng.random() < self.busy:
                s = self.busy_talk()
            elif self.rng.random() < noise_share or self.n - made < 8:
                s = self.noise()
            else:
                s = self.rng.choices(makers, weights)[0](self)
            made += len(s.claims)
            yield s


def generate(n_claims: int, seed: int = 0, *, noise_share: float = 0.9, busy: float = 0.0) -> Dataset:
    """``n_claims`` synthetic claims with planted conflicts and exact ground truth.

    >>> ds = generate(200, seed=1)
    >>> len(ds.claims), len({c.iri for c in ds.claims})
    (200, 200)
    """
    gen = Generator(n_claims, seed, busy=busy)
    background = gen.gazetteer()
    claims: list[Claim] = []
    truth: set[Key] = set()
    kinds: dict[str, int] = {}
    for s in gen.scenarios(noise_share):
        background.extend(s.background)
        claims.extend(s.claims)
        truth |= s.truth
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    return Dataset(n_claims, seed, background, claims, truth, kinds)


def stream_quads(n_claims: int, seed: int, truth: set[Key], *, busy: float = 0.0) -> Iterator[ox.Quad]:
    """The same data as :func:`generate`, streamed; ``truth`` is filled as it goes."""
    gen = Generator(n_claims, seed, busy=busy)
    yield from gen.gazetteer()
    for s in gen.scenarios():
        yield from s.background
        for c in s.claims:
            yield from c.quads()
        truth |= s.truth


def write_nquads(n_claims: int, seed: int, path: str | Path, *, chunk: int = 200_000,
                 busy: float = 0.0) -> set[Key]:
    """Write the dataset as N-Quads, streaming; return the ground truth."""
    truth: set[Key] = set()
    quads = stream_quads(n_claims, seed, truth, busy=busy)
    with open(path, "wb") as f:
        while True:
            batch = [q for _, q in zip(range(chunk), quads, strict=False)]
            if not batch:
                break
            f.write(ox.serialize(batch, format=ox.RdfFormat.N_QUADS))
    return truth


def write_truth(truth: set[Key], path: str | Path) -> None:
    """Ground truth as TSV: rule IRI, then the two claim IRIs (sorted)."""
    with open(path, "w", encoding="utf-8") as f:
        for rule, claims in sorted(truth, key=lambda k: (k[0], sorted(k[1]))):
            f.write("\t".join([rule, *sorted(claims)]) + "\n")


def read_truth(path: str | Path) -> set[Key]:
    out: set[Key] = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        rule, *claims = line.split("\t")
        out.add((rule, frozenset(claims)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="number of claims")
    ap.add_argument("-o", "--output", required=True, help="N-Quads file to write")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--truth", help="also write the expected conflicts (TSV) here")
    ap.add_argument("--busy", type=float, default=0.0,
                    help="share of the claims about 20 busy groups (one list per province, said many times)")
    args = ap.parse_args(argv)
    truth = write_nquads(args.n, args.seed, args.output, busy=args.busy)
    if args.truth:
        write_truth(truth, args.truth)
    print(f"{args.n} claims, {len(truth)} planted conflicts -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
