"""The analyst's work over the base: conflicts as read, decisions and grading,
entities, interested parties and the named queries.

:mod:`~cfkb.workflow.conflicts` dresses the conflict index for reading
with the claims as :mod:`~cfkb.workflow.claimviews` shows them,
:mod:`~cfkb.workflow.decisions` records flags and ranks, :mod:`~cfkb.workflow.grading`
grades claims and sources, :mod:`~cfkb.workflow.records` keeps sources' track records,
:mod:`~cfkb.workflow.entities` maintains the gazetteer,
:mod:`~cfkb.workflow.stakes` finds interested parties and
:mod:`~cfkb.workflow.queries` runs the named queries of ``cfkb/queries/``.
"""
