"""The SQL of the alert store on PostgreSQL (:mod:`sloguard.alerting.pgstore`): the ``alerts``
component's migrations, the leadership lease and the fenced outbox claim.

Times of alerts and notifications are the daemon's floats (seconds since the epoch), as in
SQLite. The lease's ``expires_at`` and an outbox row's ``claim_until`` are the *database's*
clock (``timestamptz``), so replicas whose clocks disagree still agree on who leads.

Example::

    conn.execute(ACQUIRE, {"name": "alerts", "holder": "pod-1", "ttl": 2.5})
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "CLAIM", "CURRENT", "HOLDS", "MIGRATIONS", "RELEASE"]

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE alerts (
        slo TEXT NOT NULL, instance TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (slo, instance)
    );
    CREATE TABLE outbox (
        seq BIGSERIAL NOT NULL, id TEXT PRIMARY KEY, receiver TEXT NOT NULL,
        fingerprint TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL, payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0, next_at DOUBLE PRECISION NOT NULL,
        created_at DOUBLE PRECISION NOT NULL, last_error TEXT, done_at DOUBLE PRECISION,
        claimed_by TEXT, claim_token BIGINT, claim_until TIMESTAMPTZ
    );
    CREATE INDEX outbox_due ON outbox (state, next_at);
    CREATE INDEX outbox_alert ON outbox (state, receiver, fingerprint, created_at);
    CREATE TABLE refs (
        receiver TEXT NOT NULL, fingerprint TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL,
        ref TEXT, last_sent DOUBLE PRECISION,
        PRIMARY KEY (receiver, fingerprint, started_at)
    );
    CREATE TABLE disabled (receiver TEXT PRIMARY KEY, reason TEXT, at DOUBLE PRECISION);
    CREATE TABLE silences (
        id TEXT PRIMARY KEY, ends_at DOUBLE PRECISION NOT NULL, data TEXT NOT NULL
    );
    CREATE TABLE suppressed (
        seq BIGSERIAL NOT NULL, id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,
        labels TEXT NOT NULL, transition TEXT NOT NULL, reason TEXT NOT NULL,
        silences TEXT NOT NULL, at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX suppressed_at ON suppressed (at);
    CREATE TABLE leases (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    )
    """,
    # The leader's latest evaluation results, for followers (sloguard.alerting.pgresults).
    """
    CREATE TABLE results (
        board TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, holder TEXT NOT NULL,
        token BIGINT NOT NULL, payload BYTEA NOT NULL
    )
    """,
)

#: Acquire or renew the lease ``name`` for ``holder`` in one statement, by the database's
#: clock: taken when free or expired (the token goes up by one: a new term), renewed when
#: ``holder`` still holds it (same token). Answers the lease as it is after the statement
#: (``mine`` true when ``holder`` has it) and the database's time, in seconds.
ACQUIRE = """
WITH up AS (
    INSERT INTO leases AS l (name, holder, token, expires_at)
    VALUES (%(name)s, %(holder)s, 1, clock_timestamp() + make_interval(secs => %(ttl)s))
    ON CONFLICT (name) DO UPDATE SET
        holder = EXCLUDED.holder,
        token = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > clock_timestamp()
                     THEN l.token ELSE l.token + 1 END,
        expires_at = EXCLUDED.expires_at
    WHERE l.holder = EXCLUDED.holder OR l.expires_at <= clock_timestamp()
    RETURNING holder, token, expires_at
)
SELECT holder, token, extract(epoch FROM expires_at)::float8, true,
       extract(epoch FROM clock_timestamp())::float8 FROM up
UNION ALL
SELECT holder, token, extract(epoch FROM expires_at)::float8, false,
       extract(epoch FROM clock_timestamp())::float8
FROM leases WHERE name = %(name)s AND NOT EXISTS (SELECT 1 FROM up)
"""

#: The lease as it is now (after :data:`ACQUIRE` did not take it), in ACQUIRE's columns.
CURRENT = """
SELECT holder, token, extract(epoch FROM expires_at)::float8, false,
       extract(epoch FROM clock_timestamp())::float8
FROM leases WHERE name = %(name)s
"""

#: Let the lease go at shutdown (a follower takes over at its next attempt, not after the TTL).
RELEASE = """
UPDATE leases SET expires_at = clock_timestamp()
WHERE name = %(name)s AND holder = %(holder)s AND token = %(token)s
"""

#: The fence: does ``holder`` still hold the lease with ``token``, unexpired? ``FOR SHARE``
#: keeps a takeover waiting until the transaction that checked it has committed.
HOLDS = """
SELECT 1 FROM leases
WHERE name = %(name)s AND holder = %(holder)s AND token = %(token)s
  AND expires_at > clock_timestamp()
FOR SHARE
"""

#: Claim the due notifications (of one receiver when ``receiver`` is not null), oldest first,
#: each alert's in order; rows claimed by another holder (or an older term) wait until the
#: claim expires; rows another transaction is claiming are skipped. ``in_doubt``: the row was
#: claimed before by another holder or term (which may have delivered it before it stopped).
CLAIM = """
WITH picked AS (
    SELECT o.id, o.claimed_by AS was_by, o.claim_token AS was_token FROM outbox o
    WHERE o.state = 'pending' AND o.next_at <= %(now)s
      AND (%(receiver)s::text IS NULL OR o.receiver = %(receiver)s::text)
      AND (o.claim_until IS NULL OR o.claim_until < clock_timestamp()
           OR (o.claimed_by = %(holder)s AND o.claim_token = %(token)s))
      AND NOT EXISTS (
          SELECT 1 FROM outbox e
          WHERE e.state = 'pending' AND e.receiver = o.receiver
            AND e.fingerprint = o.fingerprint AND (e.created_at, e.seq) < (o.created_at, o.seq)
            AND (e.next_at > %(now)s
                 OR (e.claim_until >= clock_timestamp()
                     AND NOT (e.claimed_by = %(holder)s AND e.claim_token = %(token)s))))
    ORDER BY o.created_at, o.seq
    LIMIT %(limit)s
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE outbox SET claimed_by = %(holder)s, claim_token = %(token)s,
    claim_until = clock_timestamp() + make_interval(secs => %(ttl)s)
FROM picked WHERE outbox.id = picked.id
RETURNING outbox.payload, outbox.attempts, outbox.next_at, outbox.created_at, outbox.seq,
    (picked.was_by IS NOT NULL
     AND NOT (picked.was_by = %(holder)s AND picked.was_token = %(token)s)) AS in_doubt
"""
