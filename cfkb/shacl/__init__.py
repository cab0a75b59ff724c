"""The two SHACL executors: pySHACL, the reference semantics
(:mod:`~cfkb.shacl.validate`), and the compiled data-quality check fast enough
for big imports (:mod:`~cfkb.shacl.shapecheck`)."""
