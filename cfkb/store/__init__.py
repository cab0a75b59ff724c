"""The store: :class:`~cfkb.store.core.KnowledgeBase` and what it stands on.

:mod:`~cfkb.store.core` (the API), :mod:`~cfkb.store.location` (where a base is,
what must be there), :mod:`~cfkb.store.locks` ("store in use"),
:mod:`~cfkb.store.journal` (the redo journal and its recovery),
:mod:`~cfkb.store.generations` (the generation stamp and the write followers),
:mod:`~cfkb.store.entityindex` (the entity index the base keeps),
:mod:`~cfkb.store.owntexts` (cfkb's own SPARQL texts) and
:mod:`~cfkb.store.updatetext` (the update texts, generated);
:mod:`~cfkb.store.backend` (the quad-store interface), :mod:`~cfkb.store.remote`
(the SPARQL server backend), :mod:`~cfkb.store.remotehttp` (its URL policy and
HTTP client), :mod:`~cfkb.store.remotesettings` (its settings);
:mod:`~cfkb.store.guard` (size limits and the query refusal check),
:mod:`~cfkb.store.sparqltext` (the SPARQL tokenizer),
:mod:`~cfkb.store.sandbox` (no network where queries run),
:mod:`~cfkb.store.files` (regular files only), :mod:`~cfkb.store.spool`,
:mod:`~cfkb.store.bulk` and :mod:`~cfkb.store.usercache`.
"""
