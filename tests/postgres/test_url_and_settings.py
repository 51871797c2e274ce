"""PostgreSQL URLs and the ``storage`` settings: checked, the password kept out of the URL and
out of every message, refused in a settings file; psycopg never imported on the default path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sloguard.errors import ConfigError
from sloguard.postgres.url import check_url, redact, split_password
from sloguard.settings.model import load_settings
from tests.support.blocker import PKG

#: psycopg as if not installed (the error Python raises for a missing module, with its name).
NOT_INSTALLED = """
import sys, importlib.abc
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("psycopg", "psycopg_pool"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Missing())
"""


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://sloguard@db:5432/sloguard", None),
        ("postgres://u:pw@127.0.0.1/x?sslmode=require", None),
        ("mysql://db/x", "must be a postgresql:// URL, got scheme 'mysql'"),
        ("db:5432/x", "must be a postgresql:// URL such as"),
        ("postgresql:///x", "names no host"),
        ("postgresql://db:port/x", "has a bad port in 'db:port'"),
        ("postgresql://db:5432", "names no database"),
        ("postgresql://db:5432/", "names no database"),
    ],
)
def test_check_url(url: str, problem: str | None) -> None:
    got = check_url(url)
    assert (got is None) if problem is None else (got is not None and got.startswith(problem))


def test_split_and_redact_hide_the_password() -> None:
    assert split_password("postgresql://u:p%40ss@db:5432/x") == ("postgresql://u@db:5432/x", "p@ss")
    assert split_password("postgresql://u@db/x") == ("postgresql://u@db/x", None)
    assert split_password("postgresql://u:@db/x") == ("postgresql://u@db/x", "")
    assert redact("postgresql://u:s3cret@db/x?password=s3cret") == "postgresql://u:***@db/x"
    assert redact("postgresql://u@db/x") == "postgresql://u@db/x"
    assert redact("postgresql://db/x") == "postgresql://db/x"
    assert redact("garbage s3cret") == "<not a URL>"


def test_a_password_from_the_environment_leaves_the_url() -> None:
    s = load_settings(env={"SLOGUARD_STORAGE__URL": "postgresql://u:s3cret@db:5432/x"})
    assert s.storage.url == "postgresql://u@db:5432/x"
    assert s.storage.password is not None and s.storage.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.storage)
    explicit = load_settings(
        env={
            "SLOGUARD_STORAGE__URL": "postgresql://u:old@db/x",
            "SLOGUARD_STORAGE__PASSWORD": "new",
        }
    )
    assert explicit.storage.password is not None
    assert explicit.storage.password.get_secret_value() == "new"
    assert load_settings(env={}).storage.url is None  # SQLite stays the default


def test_storage_mistakes_name_file_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "sloguard.yaml"
    cases = {
        "storage:\n  url: postgresql://u:hunter2@db/x\n": (
            f"{f}:2: storage.url: a password in the URL is a secret; "
            "set SLOGUARD_STORAGE__PASSWORD instead"
        ),
        "storage:\n  password: hunter2\n": (
            f"{f}:2: storage.password: secrets are not read from settings files; "
            "set SLOGUARD_STORAGE__PASSWORD instead"
        ),
        "storage:\n  url: mysql://db/x\n": (
            f"{f}:2: storage.url: must be a postgresql:// URL, got scheme 'mysql' "
            "(got 'mysql://db/x')"
        ),
        "storage:\n  pool_size: 0\n": f"{f}:2: storage.pool_size: ",
        "storage:\n  urll: postgresql://db/x\n": f"{f}:2: storage.urll: ",
    }
    for text, expected in cases.items():
        f.write_text(text)
        with pytest.raises(ConfigError) as err:
            load_settings(str(f), env={})
        assert str(err.value).startswith(expected), str(err.value)
        assert "hunter2" not in str(err.value)


def test_a_bad_url_from_the_environment_never_shows_its_password() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env={"SLOGUARD_STORAGE__URL": "mysql://u:hunter2@db/x"})
    assert "$SLOGUARD_STORAGE__URL" in str(err.value) and "hunter2" not in str(err.value)


def test_the_default_path_never_imports_psycopg() -> None:
    code = NOT_INSTALLED + (
        "import sloguard, sloguard.daemon, sloguard.assembly, sloguard.cli\n"
        "import sloguard.tracestore.store, sloguard.tracestore.base, sloguard.settings.model\n"
        "import sloguard.tracestore.pgqueries, sloguard.postgres.url\n"
        "from sloguard.settings.model import load_settings\n"
        "from sloguard.assembly import trace_store\n"
        "from sloguard.tracestore.storehealth import StorageFailures\n"
        "import tempfile, pathlib\n"
        "d = pathlib.Path(tempfile.mkdtemp())\n"
        "s = load_settings(env={'SLOGUARD_DATA_DIR': str(d)})\n"
        "print(type(trace_store(s, StorageFailures(None))).__name__)\n"
        "s = load_settings(env={'SLOGUARD_STORAGE__URL': 'postgresql://u@127.0.0.1:1/x'})\n"
        "try:\n"
        "    trace_store(s, StorageFailures(None))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(PKG.parent), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "SqliteTraceStore",
        "MissingExtra storage.url needs the optional dependency 'psycopg': "
        "pip install 'sloguard[postgres]'",
    ]
