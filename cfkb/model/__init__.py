"""The claim model: the vocabulary, the claim record and its RDF form, and names.

:mod:`cfkb.model.vocabulary` holds the namespaces, IRI constants and
:class:`~cfkb.model.vocabulary.Claim`; :mod:`cfkb.model.names` looks entities
and predicates up by name. Nothing here opens a store.
"""
