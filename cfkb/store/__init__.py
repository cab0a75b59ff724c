"""The store: :class:`~cfkb.store.core.KnowledgeBase` and what it stands on.

:mod:`~cfkb.store.core` (the API, locks, the redo journal and recovery),
:mod:`~cfkb.store.backend` (the quad-store interface), :mod:`~cfkb.store.remote`
(the SPARQL server backend), :mod:`~cfkb.store.guard` (size limits and the
query refusal check), :mod:`~cfkb.store.sparqltext` (the SPARQL tokenizer),
:mod:`~cfkb.store.sandbox` (no network where queries run),
:mod:`~cfkb.store.files` (regular files only), :mod:`~cfkb.store.spool`,
:mod:`~cfkb.store.bulk` and :mod:`~cfkb.store.usercache`.
"""
