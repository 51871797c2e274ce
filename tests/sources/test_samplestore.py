"""The sample stores' shared arithmetic (reset adjustment, thinning plan) as tables, and the
mistakes that stop the daemon when the samples cannot be stored (file, URL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sloguard.durations import DAY, HOUR, MINUTE
from sloguard.errors import ConfigError
from sloguard.sources.embedded import open_sample_store
from sloguard.sources.samplestore import SqliteSampleStore, Thinning, adjusted, thinning
from tests.support.promserver import free_port

NOW = 100 * DAY


@pytest.mark.parametrize(
    ("previous", "raw", "expected"),
    [
        (None, 5.0, 5.0),  # a new series counts from 0
        ((5.0, 5.0), 8.0, 8.0),
        ((5.0, 5.0), 5.0, 5.0),  # no event
        ((8.0, 8.0), 2.0, 10.0),  # the counter restarted: 2 events since
        ((8.0, 20.0), 0.0, 20.0),  # restarted, nothing yet
        ((3.0, 40.0), 7.0, 44.0),  # after an earlier reset
    ],
)
def test_adjusted_keeps_a_restarted_counter_growing(
    previous: tuple[float, float] | None, raw: float, expected: float
) -> None:
    assert adjusted(previous, raw) == expected


@pytest.mark.parametrize(
    ("retention", "fine_for", "finest", "expected"),
    [
        (
            30 * DAY, 2 * HOUR, None,
            [Thinning(NOW - DAY, NOW - 2 * HOUR, 60.0), Thinning(NOW - 30 * DAY, NOW - DAY, 600.0)],
        ),
        (  # a time-slice SLO's 5-minute slices: never thinned coarser than a slice
            30 * DAY, 2 * HOUR, 5 * MINUTE,
            [Thinning(NOW - DAY, NOW - 2 * HOUR, 60.0), Thinning(NOW - 30 * DAY, NOW - DAY, 300.0)],
        ),
        (  # fine for longer than a day: only the coarse range
            30 * DAY, 2 * DAY, None, [Thinning(NOW - 30 * DAY, NOW - 2 * DAY, 600.0)],
        ),
        (  # retention shorter than a day: the coarse range is empty
            12 * HOUR, 2 * HOUR, None, [Thinning(NOW - DAY, NOW - 2 * HOUR, 60.0)],
        ),
    ],
)  # fmt: skip
def test_thinning_plans_one_range_per_age(
    retention: float, fine_for: float, finest: float | None, expected: list[Thinning]
) -> None:
    assert thinning(NOW, retention, fine_for, finest) == expected


def test_a_samples_file_that_cannot_be_opened_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "samples.sqlite"
    path.mkdir()  # a directory where the file should be
    with pytest.raises(ConfigError) as info:
        open_sample_store(path)
    assert str(info.value).startswith(
        f"{path}: cannot open the embedded samples: unable to open database file; check that "
        "the user sloguard runs as can write this file and its directory"
    )


def test_an_unreachable_database_is_one_line_naming_the_url_without_its_password(
    tmp_path: Path,
) -> None:
    dead = free_port()
    with pytest.raises(ConfigError) as info:
        open_sample_store(
            tmp_path / "unused.sqlite",
            url=f"postgresql://sloguard@127.0.0.1:{dead}/sloguard",
            password="hunter2",
            timeout=5,
            process="pod-1:9464",
        )
    message = str(info.value)
    assert message.startswith(
        f"postgresql://sloguard@127.0.0.1:{dead}/sloguard: storage.url: "
        "cannot connect to the database: "
    )
    assert "\n" not in message and "hunter2" not in message
    assert not (tmp_path / "unused.sqlite").exists()


def test_the_sqlite_store_is_this_process_alone() -> None:
    store = SqliteSampleStore()
    assert store.shared is False
    store.close()
