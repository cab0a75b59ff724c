"""What goes in and out of the base: files, tables, imports, exports, reports.

Readers (:mod:`~cfkb.io.tables`, :mod:`~cfkb.io.rdfio`), rows made claims
(:mod:`~cfkb.io.resolver`), the import
(:mod:`~cfkb.io.importer`, :mod:`~cfkb.io.importstream`, :mod:`~cfkb.io.batch`,
:mod:`~cfkb.io.importcheck`, :mod:`~cfkb.io.partner`), TLP release rules
(:mod:`~cfkb.io.tlp`), the export and the report (:mod:`~cfkb.io.export`,
:mod:`~cfkb.io.report`) and output that cannot attack its reader
(:mod:`~cfkb.io.output`).
"""
