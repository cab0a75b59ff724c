-- The executable form of direct.ttl, over the claim table (cfkb/engine/table.py).
-- Output-sensitive: first the (subject, predicate, object) keys said both
-- ways, then pairs only inside those keys. direct.ttl is the semantics; tests
-- hold the two to the same answers.

-- rule: DirectConflict
WITH said AS (
    SELECT * FROM claims
    WHERE s IS NOT NULL AND p IS NOT NULL AND o IS NOT NULL AND neg IS NOT NULL
      AND who IS NOT NULL AND NOT noind
      -- delta: AND (s, p, o) IN (SELECT s, p, o FROM claims WHERE iri IN (SELECT iri FROM wanted))
), both_ways AS (
    SELECT s, p, o FROM said GROUP BY s, p, o HAVING max(neg) AND max(NOT neg)
), denied AS (
    SELECT said.* FROM said WHERE (s, p, o) IN (SELECT s, p, o FROM both_ways) AND said.neg AND said.is_claim
), asserted AS (
    SELECT said.* FROM said WHERE (s, p, o) IN (SELECT s, p, o FROM both_ways) AND NOT said.neg
)
SELECT t.iri AS this, v.iri AS value
FROM denied t JOIN asserted v ON v.s = t.s AND v.p = t.p AND v.o = t.o
-- a later word of the same speaker is a revision, not a contradiction
WHERE NOT (t.who = v.who AND t.date IS NOT NULL AND v.date IS NOT NULL AND t.date <> v.date)
  AND (t.election IS NULL OR v.election IS NULL OR t.election = v.election)
  AND (t.area IS NULL OR v.area IS NULL OR t.area = v.area
       OR EXISTS (SELECT 1 FROM area_overlap x WHERE x.a = t.area AND x.b = v.area));
