-- The executable form of functional.ttl, over the claim table (cfkb/engine/table.py).
-- Output-sensitive: first the (subject, predicate) keys given two or more
-- values; then pairs of (value, area, election) groups inside them that
-- overlap and are not a list and its sub-list; only then the claims of those
-- groups, paired (each pair of groups with its first claims, then its second).
-- functional.ttl is the semantics; tests hold the two to the same answers.

-- rule: FunctionalConflict
WITH
-- delta: focus AS MATERIALIZED (SELECT * FROM claims WHERE iri IN (SELECT iri FROM wanted)),
said AS (
    SELECT c.iri, c.is_claim, c.s, c.p, c.o, c.who, c.date, coalesce(c.area, '') AS ka,
           coalesce(c.election, '') AS ke
    FROM claims c
    JOIN kinds k ON k.p = c.p AND k.kind = 'https://w3id.org/cfkb/ns#FunctionalPerContext'
    WHERE c.s IS NOT NULL AND c.o IS NOT NULL AND c.neg = false AND c.who IS NOT NULL AND NOT c.noind
      -- the values said of a wanted claim's subject in a context that overlaps the claim's
      -- delta: AND EXISTS (SELECT 1 FROM focus w WHERE w.s = c.s AND w.p = c.p
      -- delta:             AND (w.election IS NULL OR c.election IS NULL OR w.election = c.election)
      -- delta:             AND (w.area IS NULL OR c.area IS NULL OR w.area = c.area
      -- delta:                  OR EXISTS (SELECT 1 FROM area_overlap x WHERE x.a = w.area AND x.b = c.area)))
), several AS (
    SELECT s, p FROM said GROUP BY s, p HAVING count(DISTINCT o) > 1
), ctx AS (
    SELECT said.* FROM said WHERE (s, p) IN (SELECT s, p FROM several)
), groups AS (
    SELECT DISTINCT s, p, o, ka, ke FROM ctx
), sublist AS (
    SELECT DISTINCT s, o FROM claims WHERE p = 'https://w3id.org/cfkb/ns#memberOf' AND neg = false
      AND s IS NOT NULL AND o IS NOT NULL
), pairs AS MATERIALIZED (
    SELECT g1.s, g1.p, g1.o AS o1, g1.ka AS a1, g1.ke AS e1, g2.o AS o2, g2.ka AS a2, g2.ke AS e2
    FROM groups g1 JOIN groups g2 ON g1.s = g2.s AND g1.p = g2.p AND g1.o <> g2.o
    WHERE (g1.ke = '' OR g2.ke = '' OR g1.ke = g2.ke)
      AND (g1.ka = '' OR g2.ka = '' OR g1.ka = g2.ka
           OR EXISTS (SELECT 1 FROM area_overlap x WHERE x.a = g1.ka AND x.b = g2.ka))
      -- a list and its sub-list are not two different lists
      AND NOT EXISTS (SELECT 1 FROM sublist m WHERE m.s = g1.o AND m.o = g2.o)
      AND NOT EXISTS (SELECT 1 FROM sublist m WHERE m.s = g2.o AND m.o = g1.o)
      -- a wanted claim's list first (each pair of lists is here both ways round)
      -- delta: AND (g1.o, g1.ka, g1.ke) IN (SELECT o, coalesce(area, ''), coalesce(election, '') FROM focus)
), half AS MATERIALIZED (
    -- the pairs with their first claims, then the second: joined the other way round, a
    -- busy group's claims were paired with one another first (64M rows at 1M claims)
    SELECT q.*, t.iri AS ti, t.who AS tw, t.date AS td
    FROM pairs q JOIN ctx t ON t.s = q.s AND t.p = q.p AND t.o = q.o1 AND t.ka = q.a1 AND t.ke = q.e1
    WHERE t.is_claim
)
-- the pair with its lesser IRI first, as each pair is found once in a full run
SELECT CASE WHEN h.ti < v.iri THEN h.ti ELSE v.iri END AS this,
       CASE WHEN h.ti < v.iri THEN v.iri ELSE h.ti END AS value
FROM half h
JOIN ctx v ON v.s = h.s AND v.p = h.p AND v.o = h.o2 AND v.ka = h.a2 AND v.ke = h.e2
WHERE (h.ti < v.iri
       -- each pair once; for a wanted claim, found with it first
       -- delta: OR h.ti IN (SELECT iri FROM wanted)
      )
  AND NOT (h.tw = v.who AND h.td IS NOT NULL AND v.date IS NOT NULL AND h.td <> v.date);
