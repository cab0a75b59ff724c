"""The two SHACL executors: pySHACL, the reference semantics
(:mod:`~cfkb.shacl.validate`), and the compiled data-quality check fast enough
for big imports (:mod:`~cfkb.shacl.compiler` reads the shapes into checks,
:mod:`~cfkb.shacl.shapecheck` runs them)."""
