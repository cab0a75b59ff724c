"""The import's plan: the files read, the claims the base lacks picked out, the whole SHACL-checked.

:func:`plan_import` reads and resolves the files (:mod:`cfkb.io.importread`),
adds the entities the import creates, keeps the claims the base does not
hold yet, checks it all against the shapes (:mod:`cfkb.io.importcheck`) and
raises every problem found, or returns a :class:`Plan` ready for
:func:`cfkb.io.importer.commit`. A read-only view of the base is enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyoxigraph as ox

from cfkb.errors import ShapeError
from cfkb.io.batch import InputFile, Progress, raise_problems
from cfkb.io.importcheck import Origin, check_shapes
from cfkb.io.importread import created_entity_quads, read_inputs
from cfkb.io.tlp import default_level
from cfkb.model.vocabulary import CFKB, Claim, tlp_term
from cfkb.store.bulk import collector_paused
from cfkb.store.core import KnowledgeBase


@dataclass
class Plan:
    """An import read, resolved and checked, ready to commit."""

    files: list[InputFile]
    claims: list[Claim]
    iris: list[str]
    #: the claims to add (not in the base when planned), by IRI, in file order
    new_claims: dict[str, Claim]
    rest: list[ox.Quad]
    created: list[ox.Quad]
    entities_created: list[tuple[str, str, str]]
    origins: dict[str, Origin]
    left_out: dict[str, int] = field(default_factory=dict)
    #: names taken as transliteration variants: (cell text, IRI, how)
    name_variants: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def claim_quads(self) -> dict[str, list[ox.Quad]]:
        """The quads of each claim to add (made on demand: a commit writes them as text)."""
        return {iri: claim.quad_list(iri=iri) for iri, claim in self.new_claims.items()}


def plan_import(kb: KnowledgeBase, files: Sequence[InputFile], *, create_entities: bool = False,
                validate: bool = True, progress: Progress | None = None, new_entities: bool = False) -> Plan:
    """Read, resolve and SHACL-check the files against ``kb`` (read-only is enough).

    Raises:
        InputError: a file does not parse, names an unknown entity, or
            violates the shapes (with the file, line and column of the row).
    """
    with collector_paused():
        return _plan_import(kb, files, create_entities=create_entities, validate=validate, progress=progress,
                            new_entities=new_entities)


def _plan_import(kb: KnowledgeBase, files: Sequence[InputFile], *, create_entities: bool, validate: bool,
                 progress: Progress | None, new_entities: bool = False) -> Plan:
    prepared = read_inputs(kb, files, create_entities=create_entities, progress=progress,
                           new_entities=new_entities)
    problems = prepared.problems
    created = created_entity_quads(kb, prepared.resolver, problems)
    new_claims: dict[str, Claim] = {}
    present = kb.claims_present(dict.fromkeys(prepared.iris))
    for iri, claim in zip(prepared.iris, prepared.claims, strict=True):
        if iri not in new_claims and iri not in present:
            new_claims[iri] = claim
    plan = Plan(
        files=list(files),
        claims=prepared.claims,
        iris=prepared.iris,
        new_claims=new_claims,
        rest=prepared.rest,
        created=created,
        entities_created=[(iri, lbl, col) for iri, (lbl, col, _) in prepared.resolver.created.items()],
        origins=prepared.origins,
        left_out=prepared.left_out,
        name_variants=[(text, iri, how) for (text, iri), how in prepared.resolver.variants.items()],
    )
    if validate and (new_claims or prepared.rest):
        try:
            check_shapes(kb, created + prepared.rest, prepared.origins, records=list(new_claims.items()))
        except ShapeError as exc:
            problems.append(exc)
    raise_problems(problems)
    plan.rest = plan.rest + markings_kept(kb, plan.rest)
    return plan


def markings_kept(kb: KnowledgeBase, quads: Sequence[ox.Quad]) -> list[ox.Quad]:
    """What keeps a file from lowering the marking of something the base holds.

    A ``cfkb:tlp`` a file gives a claim, entity or source the base already
    holds unmarked would replace the base's default (several markings count
    as the strictest, but none counts as the default): the default is
    written beside it, so the marking can only go up.
    """

    marked = {q.subject for q in quads if q.predicate == CFKB.tlp and isinstance(q.subject, ox.NamedNode)}
    extra = []
    default = None
    for node in sorted(marked, key=str):
        if next(kb.store.quads_for_pattern(node, CFKB.tlp, None, None), None) is not None:
            continue  # marked already: several marks count as the strictest
        if next(kb.store.quads_for_pattern(node, None, None, None), None) is None:
            continue  # new to the base: the file's marking is all there is
        default = default or tlp_term(default_level(kb))
        extra.append(ox.Quad(node, CFKB.tlp, default))
    return extra
