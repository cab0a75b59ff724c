-- The executable form of revision.ttl, over the claim table (cfkb/engine/table.py).
-- Output-sensitive: first the (subject, predicate, object, speaker) keys
-- said both ways, or the (subject, predicate, speaker) keys given two values;
-- then pairs only inside them. revision.ttl is the semantics; tests hold the
-- two to the same answers.

-- rule: Revision
WITH said AS (
    SELECT * FROM claims
    WHERE s IS NOT NULL AND p IS NOT NULL AND o IS NOT NULL AND neg IS NOT NULL
      AND who IS NOT NULL AND date IS NOT NULL AND NOT noind
      -- delta: AND (s, p, o, who) IN (SELECT s, p, o, who FROM claims WHERE iri IN (SELECT iri FROM wanted))
), both_ways AS (
    SELECT s, p, o, who FROM said GROUP BY s, p, o, who HAVING max(neg) AND max(NOT neg)
), ctx AS (
    SELECT said.* FROM said WHERE (s, p, o, who) IN (SELECT s, p, o, who FROM both_ways)
)
SELECT t.iri AS this, v.iri AS value
FROM ctx t JOIN ctx v ON v.s = t.s AND v.p = t.p AND v.o = t.o AND v.who = t.who
WHERE t.is_claim AND t.neg AND NOT v.neg AND t.date > v.date
  AND (t.election IS NULL OR v.election IS NULL OR t.election = v.election)
  AND (t.area IS NULL OR v.area IS NULL OR t.area = v.area
       OR EXISTS (SELECT 1 FROM area_overlap x WHERE x.a = t.area AND x.b = v.area));

-- rule: RevisionReasserted
WITH said AS (
    SELECT * FROM claims
    WHERE s IS NOT NULL AND p IS NOT NULL AND o IS NOT NULL AND neg IS NOT NULL
      AND who IS NOT NULL AND date IS NOT NULL AND NOT noind
      -- delta: AND (s, p, o, who) IN (SELECT s, p, o, who FROM claims WHERE iri IN (SELECT iri FROM wanted))
), both_ways AS (
    SELECT s, p, o, who FROM said GROUP BY s, p, o, who HAVING max(neg) AND max(NOT neg)
), ctx AS (
    SELECT said.* FROM said WHERE (s, p, o, who) IN (SELECT s, p, o, who FROM both_ways)
)
SELECT t.iri AS this, v.iri AS value
FROM ctx t JOIN ctx v ON v.s = t.s AND v.p = t.p AND v.o = t.o AND v.who = t.who
WHERE t.is_claim AND NOT t.neg AND v.neg AND t.date > v.date
  AND (t.election IS NULL OR v.election IS NULL OR t.election = v.election)
  AND (t.area IS NULL OR v.area IS NULL OR t.area = v.area
       OR EXISTS (SELECT 1 FROM area_overlap x WHERE x.a = t.area AND x.b = v.area));

-- rule: RevisionOfValue
WITH
-- delta: focus AS MATERIALIZED (SELECT * FROM claims WHERE iri IN (SELECT iri FROM wanted)),
said AS (
    SELECT c.*, coalesce(c.area, '') AS ka, coalesce(c.election, '') AS ke FROM claims c
    JOIN kinds k ON k.p = c.p AND k.kind = 'https://w3id.org/cfkb/ns#FunctionalPerContext'
    WHERE c.s IS NOT NULL AND c.o IS NOT NULL AND c.neg = false AND c.who IS NOT NULL
      AND c.date IS NOT NULL AND NOT c.noind
      -- the values a wanted claim's speaker gave its subject in a context that overlaps the claim's
      -- delta: AND EXISTS (SELECT 1 FROM focus w WHERE w.s = c.s AND w.p = c.p AND w.who = c.who
      -- delta:             AND (w.election IS NULL OR c.election IS NULL OR w.election = c.election)
      -- delta:             AND (w.area IS NULL OR c.area IS NULL OR w.area = c.area
      -- delta:                  OR EXISTS (SELECT 1 FROM area_overlap x WHERE x.a = w.area AND x.b = c.area)
      -- delta:                  OR EXISTS (SELECT 1 FROM area_overlap x WHERE x.a = c.area AND x.b = w.area)))
), several AS (
    SELECT s, p, who FROM said GROUP BY s, p, who HAVING count(DISTINCT o) > 1
), ctx AS (
    SELECT said.* FROM said WHERE (s, p, who) IN (SELECT s, p, who FROM several)
), groups AS (
    SELECT DISTINCT s, p, who, o, ka, ke FROM ctx
), sublist AS (
    SELECT DISTINCT s, o FROM claims WHERE p = 'https://w3id.org/cfkb/ns#memberOf' AND neg = false
      AND s IS NOT NULL AND o IS NOT NULL
), pairs AS MATERIALIZED (
    SELECT g1.s, g1.p, g1.who, g1.o AS o1, g1.ka AS a1, g1.ke AS e1, g2.o AS o2, g2.ka AS a2, g2.ke AS e2
    FROM groups g1 JOIN groups g2 ON g1.s = g2.s AND g1.p = g2.p AND g1.who = g2.who AND g1.o <> g2.o
    WHERE (g1.ke = '' OR g2.ke = '' OR g1.ke = g2.ke)
      AND (g1.ka = '' OR g2.ka = '' OR g1.ka = g2.ka
           OR EXISTS (SELECT 1 FROM area_overlap x WHERE x.a = g1.ka AND x.b = g2.ka))
      AND NOT EXISTS (SELECT 1 FROM sublist m WHERE m.s = g1.o AND m.o = g2.o)
      AND NOT EXISTS (SELECT 1 FROM sublist m WHERE m.s = g2.o AND m.o = g1.o)
      -- delta: AND ((g1.o, g1.ka, g1.ke) IN (SELECT o, coalesce(area, ''), coalesce(election, '') FROM focus)
      -- delta:      OR (g2.o, g2.ka, g2.ke) IN (SELECT o, coalesce(area, ''), coalesce(election, '') FROM focus))
), half AS MATERIALIZED (
    -- the pairs with their first claims, then the second (as in functional.sql)
    SELECT q.*, t.iri AS ti, t.date AS td
    FROM pairs q
    JOIN ctx t ON t.s = q.s AND t.p = q.p AND t.who = q.who AND t.o = q.o1 AND t.ka = q.a1 AND t.ke = q.e1
    WHERE t.is_claim
)
SELECT h.ti AS this, v.iri AS value
FROM half h
JOIN ctx v ON v.s = h.s AND v.p = h.p AND v.who = h.who AND v.o = h.o2 AND v.ka = h.a2 AND v.ke = h.e2
WHERE h.td > v.date;
