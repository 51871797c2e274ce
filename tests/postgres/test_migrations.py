"""The shared database's foundation against a real PostgreSQL: numbered migrations recorded per
component, applied once when replicas start together, rolled back whole when one fails, a newer
database refused; and one-line startup errors (unreachable, refused, lacking rights) that name
the URL with its password hidden."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psycopg
import pytest

from sloguard.errors import ConfigError
from sloguard.postgres.migrations import Component, Migration, applied_versions, pending
from sloguard.postgres.pool import connect
from tests.support.pgserver import start_postgres
from tests.support.promserver import free_port

pytestmark = pytest.mark.e2e

_n = count()

V1 = Migration(1, "CREATE TABLE widgets (id INT PRIMARY KEY); INSERT INTO widgets VALUES (1)")
V2 = Migration(2, "ALTER TABLE widgets ADD COLUMN name TEXT")
BROKEN = Migration(3, "ALTER TABLE widgets ADD COLUMN size INT; SELECT * FROM no_such_table")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_postgres(tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture
def url(server: str) -> str:
    name = f"foundation_{next(_n)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return server.rsplit("/", 1)[0] + "/" + name


def rows(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        got = conn.execute("SELECT component, version FROM schema_migrations ORDER BY 1, 2")
        return [(str(c), int(v)) for c, v in got.fetchall()]


def columns(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        got = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " ORDER BY ordinal_position",
            (table,),
        )
        return [str(r[0]) for r in got.fetchall()]


def test_migrations_are_numbered_recorded_and_applied_once(url: str) -> None:
    db = connect(url, components=[Component("widgets", (V1,)), Component("gadgets", ())])
    db.close()
    assert rows(url) == [("widgets", 1)]
    db = connect(url, components=[Component("widgets", (V1, V2))])  # a newer sloguard
    with db.connection() as conn:
        assert applied_versions(conn, "widgets") == [1, 2]
        assert conn.execute("SELECT COUNT(*) FROM widgets").fetchone() == (1,)  # V1 ran once
    db.close()
    assert columns(url, "widgets") == ["id", "name"]
    assert rows(url) == [("widgets", 1), ("widgets", 2)]
    assert pending(Component("widgets", (V1, V2)), [1]) == [V2]


def test_replicas_starting_together_migrate_once(url: str) -> None:
    component = Component("widgets", (V1, V2))
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def replica() -> None:
        try:
            start.wait()
            connect(url, components=[component]).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert rows(url) == [("widgets", 1), ("widgets", 2)]


def test_a_failing_migration_changes_nothing(url: str) -> None:
    connect(url, components=[Component("widgets", (V1, V2))]).close()
    with pytest.raises(ConfigError) as err:
        connect(url, components=[Component("widgets", (V1, V2, BROKEN))])
    message = str(err.value)
    assert message.startswith(f"{url}: storage.url: cannot migrate the 'widgets' tables: ")
    assert "no_such_table" in message and "\n" not in message
    assert columns(url, "widgets") == ["id", "name"]  # the first statement was rolled back too
    assert rows(url) == [("widgets", 1), ("widgets", 2)]


def test_a_database_newer_than_the_code_is_refused(url: str) -> None:
    connect(url, components=[Component("widgets", (V1, V2))]).close()
    secret_url = url.replace("sloguard@", "sloguard:hunter2@")  # trust auth: any password works
    with pytest.raises(ConfigError) as err:
        connect(secret_url, components=[Component("widgets", (V1,))])
    assert str(err.value) == (
        f"{url.replace('sloguard@', 'sloguard:***@')}: storage.url: the database's 'widgets' "
        "schema is at version 2, newer than this sloguard knows (1); upgrade sloguard or use "
        "another database"
    )


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    port = free_port()
    with pytest.raises(ConfigError) as err:
        connect(f"postgresql://u:hunter2@127.0.0.1:{port}/x", timeout=2)
    message = str(err.value)
    assert message.startswith(
        f"postgresql://u:***@127.0.0.1:{port}/x: storage.url: cannot connect to the database: "
    )
    assert "hunter2" not in message and "\n" not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_a_missing_database_and_a_bad_url_are_one_line(server: str) -> None:
    missing = server.rsplit("/", 1)[0] + "/nope"
    with pytest.raises(ConfigError, match=r'cannot connect to the database: .*"nope" does not'):
        connect(missing)
    with pytest.raises(ConfigError, match=r"storage\.url: must be a postgresql:// URL"):
        connect("http://db/x")


def test_a_user_without_rights_is_told_so(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE ROLE reader LOGIN")
    reader = url.replace("sloguard@", "reader@")
    with pytest.raises(ConfigError) as err:
        connect(reader, components=[Component("widgets", (V1,))])
    message = str(err.value)
    assert message.startswith(f"{reader}: storage.url: the database user lacks ")
    assert "permission denied for schema public" in message and "\n" not in message


def test_components_are_numbered_in_order() -> None:
    with pytest.raises(ValueError, match=r"numbered 1..n in order, got \[2\]"):
        Component("widgets", (V2,))
    with pytest.raises(ValueError, match="component name must match"):
        Component("Widgets!", ())


def test_the_trace_store_component_is_recorded(url: str, tmp_path: Path) -> None:
    from sloguard.tracestore.pgstore import TRACES, open_pg_trace_store

    store = open_pg_trace_store(url)
    store.close()
    assert rows(url) == [("traces", TRACES.latest)]
    assert set(columns(url, "traces")) >= {"trace_id", "body", "bytes"}
