-- The executable form of derived.ttl, over the claim table (cfkb/engine/table.py).
-- Both rules start from the denials of participation (few), so the busy
-- memberOf and contests claims are only read by key. derived.ttl is the
-- semantics; tests hold the two to the same answers.

-- rule: MembershipImpliesParticipation
WITH denial AS (
    SELECT * FROM claims
    WHERE is_claim AND p = 'https://w3id.org/cfkb/ns#participatesIn' AND neg AND NOT noind
      AND s IS NOT NULL AND o IS NOT NULL
), member AS (
    SELECT c.* FROM claims c
    JOIN kinds k ON k.p = c.p AND k.kind = 'https://w3id.org/cfkb/ns#ParticipationImplying'
    WHERE c.neg = false AND NOT c.noind AND c.s IS NOT NULL AND c.o IS NOT NULL
), contest AS (
    SELECT * FROM claims
    WHERE p = 'https://w3id.org/cfkb/ns#contests' AND neg = false AND NOT noind AND s IS NOT NULL AND o IS NOT NULL
), chain AS (
    -- X is part of L, and L contests E: only the (X, E) pairs some claim denies. The parts
    -- and the contests are cut to the denied X and E before they are joined: a busy list
    -- is said to contest its election again and again, so the join of all of them is
    -- millions of rows that the pair filter would then drop
    SELECT v.iri AS value, v.s AS x, v.area AS va, c.iri AS contests, c.o AS e
    FROM (SELECT * FROM member WHERE s IN (SELECT s FROM denial)) v
    JOIN (SELECT * FROM contest WHERE o IN (SELECT o FROM denial)) c ON c.s = v.o
    WHERE (v.election IS NULL OR v.election = c.o)
      AND (v.s, c.o) IN (SELECT s, o FROM denial)
)
SELECT t.iri AS this, h.value, h.contests
FROM denial t
JOIN chain h ON h.x = t.s AND h.e = t.o
WHERE t.area IS NULL OR h.va IS NULL OR t.area = h.va
   OR EXISTS (SELECT 1 FROM area_overlap x WHERE x.a = t.area AND x.b = h.va);

-- rule: WingImpliesParticipation
WITH denial AS (
    SELECT * FROM claims
    WHERE is_claim AND p = 'https://w3id.org/cfkb/ns#participatesIn' AND neg AND NOT noind
      AND s IS NOT NULL AND o IS NOT NULL
), wing AS (
    SELECT c.* FROM claims c
    JOIN kinds k ON k.p = c.p AND k.kind = 'https://w3id.org/cfkb/ns#ParticipationPropagating'
    WHERE c.neg = false AND NOT c.noind AND c.s IS NOT NULL AND c.o IS NOT NULL
), root AS (
    -- P participates in E, or P is part of (runs as) a list contesting E
    SELECT c.*, k.p IS NOT NULL AS implying FROM claims c
    LEFT JOIN kinds k ON k.p = c.p AND k.kind = 'https://w3id.org/cfkb/ns#ParticipationImplying'
    WHERE c.neg = false AND NOT c.noind AND c.s IS NOT NULL AND c.p IS NOT NULL AND c.o IS NOT NULL
      AND c.who IS NOT NULL
), contest AS (
    SELECT * FROM claims
    WHERE p = 'https://w3id.org/cfkb/ns#contests' AND neg = false AND NOT noind AND s IS NOT NULL AND o IS NOT NULL
), chain AS (
    SELECT t.iri AS this, t.o AS e, t.area AS ta, w.iri AS wing, v.iri AS value, v.p AS vp, v.o AS vo,
           v.implying, v.election AS ve, v.area AS va
    FROM denial t
    JOIN wing w ON w.o = t.s
    JOIN root v ON v.s = w.s
)
SELECT h.this, h.value, c.iri AS contests, h.wing
FROM chain h
LEFT JOIN contest c ON h.implying AND c.s = h.vo AND c.o = h.e
WHERE ((h.vp = 'https://w3id.org/cfkb/ns#participatesIn' AND h.vo = h.e)
       OR (c.iri IS NOT NULL AND (h.ve IS NULL OR h.ve = h.e)))
  AND (h.ta IS NULL OR h.va IS NULL OR h.ta = h.va
       OR EXISTS (SELECT 1 FROM area_overlap x WHERE x.a = h.ta AND x.b = h.va));
