"""The contract of a :class:`~sloguard.sources.samplestore.SampleStore`, run against every store.

What a store must do (the embedded source's counts rely on each point):

1. **Append.** One sample per reading at ``now``, the count of those stored answered; a series
   whose newest sample is at or after ``now`` is skipped (never write into the past).
2. **Reset-adjusted increases.** ``increases`` answers ``adj(end) - adj(start)`` per matching
   series (0 before its first sample; a series born after ``end`` is left out); a counter that
   goes down restarted, and its new value is the increase.
3. **Selectors.** Only the selector's metric and matching labels are answered.
4. **Histories.** The samples in ``[lowest, end]`` plus the last one before ``lowest``.
5. **Compaction** deletes before the cutoff, keeps the last sample of each bucket of a thinned
   range, says how many it deleted, and leaves increases between kept samples unchanged.
6. **first / sampled** follow what is stored; a **reopened** store (the same process after a
   restart) continues its series' adjustment.
7. **Failures** are :class:`SampleStoreError`: a closed store refuses.

The shared store answers one history per *process* (point 8, PostgreSQL only): replicas
sampling the same series under their own names are summed by the reader, a failed append
stores nothing, a compaction running elsewhere is skipped, the series of processes with no
sample left are forgotten.

The SQLite store runs always; the PostgreSQL store runs against a real PostgreSQL
(``tests/support/pgserver.py``; a fresh database per test) and is ``e2e``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest

from sloguard.slo.promql import Selector
from sloguard.sources.samplestore import (
    SampleStore,
    SampleStoreError,
    SqliteSampleStore,
    Thinning,
)

T0 = 1_800_000_000.0
CALLS = "agent_calls_total"
OK = json.dumps({"agent_name": "billing", "status": "success"}, sort_keys=True)
ERR = json.dumps({"agent_name": "billing", "status": "error"}, sort_keys=True)
SEARCH = json.dumps({"agent_name": "search", "status": "success"}, sort_keys=True)
ALL = Selector(CALLS)
BILLING_OK = Selector(CALLS, (("agent_name", "billing"), ("status", "success")))

Factory = Callable[..., SampleStore]
_databases = count()


@pytest.fixture(scope="module")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.support.pgserver import start_postgres

    with start_postgres(tmp_path_factory.mktemp("pg")) as url:
        yield url


def fresh_database(admin_url: str) -> str:
    """A new empty database on the server of ``admin_url``; return its URL."""
    import psycopg

    name = f"samples_{next(_databases)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.e2e)])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Open a store of this kind on the same storage each call (``process``: PostgreSQL's)."""
    opened: list[SampleStore] = []
    url = fresh_database(request.getfixturevalue("pg_admin")) if request.param == "postgres" else ""

    def factory(process: str = "p1") -> SampleStore:
        store: SampleStore
        if url:
            from sloguard.sources.pgsamples import open_pg_sample_store

            store = open_pg_sample_store(url, process=process)
        else:
            store = SqliteSampleStore(tmp_path / "samples.sqlite")
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(make: Factory) -> SampleStore:
    return make()


def by_labels(answer: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    """Increases keyed by their labels' JSON, summed over processes."""
    out: dict[str, float] = {}
    for labels, inc in answer:
        key = json.dumps(labels, sort_keys=True)
        out[key] = out.get(key, 0.0) + inc
    return out


# --- 1. append -------------------------------------------------------------------------------
def test_append_stores_one_sample_per_reading_and_never_into_the_past(store: SampleStore) -> None:
    assert store.append([(CALLS, OK, 5.0), (CALLS, ERR, 1.0)], T0) == 2
    assert store.append([(CALLS, OK, 8.0)], T0 + 10) == 1
    assert store.append([(CALLS, OK, 99.0), (CALLS, ERR, 2.0)], T0 + 10) == 1  # OK: same time
    assert store.append([(CALLS, OK, 99.0)], T0 + 5) == 0  # before its newest sample
    assert store.append([], T0 + 20) == 0
    assert store.count() == 4
    assert by_labels(store.increases(ALL, T0, T0 + 10)) == {OK: 3.0, ERR: 1.0}


# --- 2. increases ----------------------------------------------------------------------------
def test_increases_are_reset_adjusted_differences(store: SampleStore) -> None:
    for i, raw in enumerate([5.0, 8.0, 12.0, 3.0, 4.0]):  # restarted between 12 and 3
        store.append([(CALLS, OK, raw)], T0 + 10 * i)
    assert by_labels(store.increases(ALL, T0, T0 + 20)) == {OK: 7.0}
    assert by_labels(store.increases(ALL, T0 - 100, T0 + 20)) == {OK: 12.0}  # from 0
    assert by_labels(store.increases(ALL, T0 + 20, T0 + 30)) == {OK: 3.0}  # the reset
    assert by_labels(store.increases(ALL, T0 + 25, T0 + 45)) == {OK: 4.0}  # held: 12 -> 16
    assert by_labels(store.increases(ALL, T0, T0 + 45)) == {OK: 11.0}
    assert store.increases(ALL, T0 - 100, T0 - 1) == []  # born after the window


# --- 3. selectors ----------------------------------------------------------------------------
def test_only_the_selectors_metric_and_labels_are_answered(store: SampleStore) -> None:
    store.append(
        [(CALLS, OK, 1.0), (CALLS, ERR, 1.0), (CALLS, SEARCH, 1.0), ("x_total", OK, 1)], T0
    )
    store.append(
        [(CALLS, OK, 4.0), (CALLS, ERR, 2.0), (CALLS, SEARCH, 9.0), ("x_total", OK, 5)], T0 + 1
    )
    assert store.increases(BILLING_OK, T0, T0 + 1) == [
        ({"agent_name": "billing", "status": "success"}, 3.0)
    ]
    assert by_labels(store.increases(ALL, T0, T0 + 1)) == {OK: 3.0, ERR: 1.0, SEARCH: 8.0}
    assert store.increases(Selector("nothing_total"), T0, T0 + 1) == []
    assert [h for _, h in store.histories(BILLING_OK, T0, T0 + 1)] == [([T0, T0 + 1], [1.0, 4.0])]


# --- 4. histories ----------------------------------------------------------------------------
def test_histories_hold_the_range_and_the_sample_before_it(store: SampleStore) -> None:
    for i in range(6):
        store.append([(CALLS, OK, float(i * i))], T0 + 10 * i)
    got = store.histories(ALL, T0 + 15, T0 + 40)
    assert got == [(json.loads(OK), ([T0 + 10, T0 + 20, T0 + 30, T0 + 40], [1.0, 4.0, 9.0, 16.0]))]
    at_sample = store.histories(ALL, T0 + 20, T0 + 20)
    assert at_sample == [(json.loads(OK), ([T0 + 20], [4.0]))]
    assert [h for _, h in store.histories(ALL, T0 - 50, T0 - 10) if h[0]] == []


# --- 5. compaction ---------------------------------------------------------------------------
def test_compaction_deletes_before_the_cutoff_and_keeps_each_buckets_last(
    store: SampleStore,
) -> None:
    for i in range(12):  # one sample a minute, +1 each
        store.append([(CALLS, OK, float(i))], T0 + 60 * i)
    before = by_labels(store.increases(ALL, T0 + 119, T0 + 11 * 60))
    # delete the first minute's sample, thin [T0 + 120, T0 + 600) to one per 5 minutes
    deleted = store.compact(T0 + 60, [Thinning(T0 + 120, T0 + 600, 300.0)])
    kept = store.histories(ALL, T0, T0 + 11 * 60)[0][1][0]
    assert deleted == 12 - len(kept)
    assert store.count() == len(kept)
    # buckets of 300 s: the last sample of each bucket the range touches is kept
    thinned = {t for t in (T0 + 60 * i for i in range(2, 10))}
    buckets = {int(t // 300) for t in thinned}
    last = {max(t for t in thinned if int(t // 300) == b) for b in buckets}
    assert set(kept) == {T0 + 60} | last | {T0 + 600, T0 + 660}
    # an increase between kept samples is unchanged
    start = max(t for t in kept if t <= T0 + 119)
    assert by_labels(store.increases(ALL, start, T0 + 11 * 60)) == before
    assert store.compact(T0 + 10_000, []) == len(kept) and store.count() == 0


# --- 6. first, sampled, reopening ------------------------------------------------------------
def test_first_and_sampled_follow_what_is_stored(store: SampleStore) -> None:
    assert store.first == float("inf") and store.sampled == 0.0
    store.append([(CALLS, OK, 1.0)], T0 + 10)
    store.append([(CALLS, OK, 2.0)], T0 + 20)
    assert (store.first, store.sampled) == (T0 + 10, T0 + 20)


def test_a_reopened_store_continues_its_series_across_a_restart(make: Factory) -> None:
    first = make()
    first.append([(CALLS, OK, 10.0)], T0)
    first.append([(CALLS, OK, 30.0)], T0 + 10)
    first.close()
    again = make()  # the same process, restarted: its counter starts again at 0
    assert (again.first, again.sampled) == (T0, T0 + 10)
    assert again.append([(CALLS, OK, 4.0)], T0 + 10) == 0  # not into the past
    assert again.append([(CALLS, OK, 4.0)], T0 + 20) == 1
    assert by_labels(again.increases(ALL, T0 - 1, T0 + 20)) == {OK: 34.0}
    assert by_labels(again.increases(ALL, T0 + 10, T0 + 20)) == {OK: 4.0}


# --- 7. failures -----------------------------------------------------------------------------
def test_a_closed_store_refuses_with_a_sample_store_error(store: SampleStore) -> None:
    store.append([(CALLS, OK, 1.0)], T0)
    store.close()
    with pytest.raises(SampleStoreError):
        store.increases(ALL, T0 - 10, T0)
    with pytest.raises(SampleStoreError):
        store.append([(CALLS, OK, 2.0)], T0 + 10)
    with pytest.raises(SampleStoreError):
        store.histories(ALL, T0 - 10, T0)


# --- 8. the shared store: one history per process ----------------------------------------------
@pytest.fixture
def pg_url(pg_admin: str) -> str:
    return fresh_database(pg_admin)


def pg_store(url: str, process: str) -> SampleStore:
    from sloguard.sources.pgsamples import open_pg_sample_store

    return open_pg_sample_store(url, process=process)


@pytest.mark.e2e
def test_processes_sampling_one_series_are_answered_apart_and_summed(pg_url: str) -> None:
    a, b = pg_store(pg_url, "replica-a:9464"), pg_store(pg_url, "replica-b:9464")
    a.append([(CALLS, OK, 100.0)], T0)  # a has been up a while
    b.append([(CALLS, OK, 0.0)], T0 + 3)
    a.append([(CALLS, OK, 110.0)], T0 + 10)
    b.append([(CALLS, OK, 2.0)], T0 + 13)
    a.append([(CALLS, OK, 5.0)], T0 + 20)  # a restarted: 5 new calls
    b.append([(CALLS, OK, 7.0)], T0 + 23)
    # read through either: increase per process (a: 10 + 5, b: 7), then summed
    for reader in (a, b):
        got = sorted(inc for _, inc in reader.increases(ALL, T0, T0 + 25))
        assert got == [7.0, 15.0]
        assert by_labels(reader.increases(ALL, T0, T0 + 25)) == {OK: 22.0}
        histories = sorted(h for _, h in reader.histories(ALL, T0, T0 + 25))
        assert histories == [
            ([T0, T0 + 10, T0 + 20], [100.0, 110.0, 115.0]),
            ([T0 + 3, T0 + 13, T0 + 23], [0.0, 2.0, 7.0]),
        ]
    assert (a.sampled, b.sampled) == (T0 + 20, T0 + 23)  # each its own
    a.close()
    b.close()


@pytest.mark.e2e
def test_a_failed_append_stores_nothing_and_is_remembered_by_nobody(pg_url: str) -> None:
    import psycopg

    store = pg_store(pg_url, "p1")
    store.append([(CALLS, OK, 10.0)], T0)
    full = (
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$;"
        "CREATE TRIGGER disk_full BEFORE INSERT ON samples FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(full.encode())
        with pytest.raises(SampleStoreError, match="No space left on device"):
            store.append([(CALLS, OK, 20.0), (CALLS, ERR, 1.0)], T0 + 10)
        assert store.count() == 1 and store.sampled == T0
        conn.execute(b"DROP TRIGGER disk_full ON samples")
    assert store.append([(CALLS, OK, 25.0), (CALLS, ERR, 1.0)], T0 + 20) == 2
    assert by_labels(store.increases(ALL, T0, T0 + 20)) == {OK: 15.0, ERR: 1.0}
    store.close()


@pytest.mark.e2e
def test_compaction_runs_on_one_replica_at_a_time_and_forgets_gone_processes(
    pg_url: str,
) -> None:
    import psycopg

    from sloguard.sources.pgsamples import COMPACT_LOCK

    live, gone = pg_store(pg_url, "live:9464"), pg_store(pg_url, "gone:9464")
    gone.append([(CALLS, OK, 3.0)], T0)
    live.append([(CALLS, OK, 1.0)], T0)
    live.append([(CALLS, OK, 2.0)], T0 + 100)
    gone.close()
    with psycopg.connect(pg_url, autocommit=True) as conn, conn.transaction():
        conn.execute(b"SELECT pg_advisory_xact_lock(%s)", (COMPACT_LOCK,))  # another compacts
        assert live.compact(T0 + 50, []) == 0
    assert live.count() == 3
    assert live.compact(T0 + 50, []) == 2  # both samples at T0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute(b"SELECT process FROM sample_series ORDER BY process").fetchall()
        versions = conn.execute(
            b"SELECT version FROM schema_migrations WHERE component = 'samples'"
        ).fetchall()
    assert rows == [("live:9464",)]  # its own series stays even when it has no sample left
    assert versions == [(1,)]
    assert live.first == T0 + 100
    live.close()
