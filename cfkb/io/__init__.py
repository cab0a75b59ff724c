"""What goes in and out of the base: files, tables, imports, exports, reports.

Readers (:mod:`~cfkb.io.tables`, :mod:`~cfkb.io.rdfio`, with
:mod:`~cfkb.io.dataonly` keeping an import to data and
:mod:`~cfkb.io.rdfclaims` reading claims out of RDF), rows made claims
(:mod:`~cfkb.io.resolver`), the import (:mod:`~cfkb.io.importer`; reading
:mod:`~cfkb.io.importread`, the plan :mod:`~cfkb.io.importplan`,
:mod:`~cfkb.io.importstream`, :mod:`~cfkb.io.batch`,
:mod:`~cfkb.io.importcheck`, :mod:`~cfkb.io.partner`), TLP release rules
(:mod:`~cfkb.io.tlp`), the export (:mod:`~cfkb.io.export`; reading the base
:mod:`~cfkb.io.exportgraph`, or with the claims spilled to files
:mod:`~cfkb.io.exportspill`, choosing :mod:`~cfkb.io.exportselect` and
:mod:`~cfkb.io.exportconflicts`, or all in bounded memory
:mod:`~cfkb.io.exportstream`, the header :mod:`~cfkb.io.exportheader`,
writing :mod:`~cfkb.io.exportwrite`, :mod:`~cfkb.io.exportjsonld` and
:mod:`~cfkb.io.exportnanopub`, options :mod:`~cfkb.io.exportoptions`), the report (:mod:`~cfkb.io.report`) and
output that cannot attack its reader (:mod:`~cfkb.io.output`).
"""
