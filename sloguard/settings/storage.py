"""The ``storage`` section: where the stores live.

Unset (the default): SQLite files in ``data_dir``. ``storage.url: postgresql://user@host:5432/db``:
the shared PostgreSQL database (extra ``postgres``), which every replica and sidecar given the
same URL shares: the trace store and the alert store (replicas elect one leader). The password
is a secret: set ``SLOGUARD_STORAGE__PASSWORD`` (or libpq's ``PGPASSWORD`` / ``~/.pgpass``).
A password written in the URL is accepted from the environment (``SLOGUARD_STORAGE__URL``),
moved out of the URL into ``password`` as the settings are read (so no ``repr`` or message shows
it), and refused in a settings file.

Example::

    StorageSettings(url="postgresql://sloguard:pw@db/sloguard").url   # "postgresql://sloguard@db/sloguard"
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from sloguard.postgres.url import check_url, split_password
from sloguard.settings.sections import Duration

__all__ = ["StorageSettings"]


def _postgres_url(url: str) -> str:
    problem = check_url(url)
    if problem is not None:
        raise ValueError(problem)
    return url


class StorageSettings(BaseModel):
    """Where the stores live: SQLite files in ``data_dir`` (default) or a shared PostgreSQL."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    url: Annotated[str, AfterValidator(_postgres_url)] | None = None
    """The shared PostgreSQL database, e.g. ``postgresql://sloguard@db:5432/sloguard``; unset:
    SQLite files in ``data_dir``. The password comes from ``SLOGUARD_STORAGE__PASSWORD`` or
    ``PGPASSWORD``, never from the settings file."""
    password: SecretStr | None = None
    """The database user's password (only from the environment)."""
    pool_size: Annotated[int, Field(ge=1, le=100)] = 8
    """Connections each store keeps open at most."""
    timeout: Duration = 10.0
    """Seconds or a duration (``10s``) to connect at start and to wait for a free connection."""

    @model_validator(mode="before")
    @classmethod
    def _password_out_of_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            url, password = split_password(data["url"])
            if password is not None:
                data = {**data, "url": url}
                if data.get("password") is None:  # an explicit password wins over the URL's
                    data["password"] = password
        return data
