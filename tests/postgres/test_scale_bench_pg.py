"""``bench/scale.py``'s PostgreSQL part at a tiny size, on a real PostgreSQL (Debian package,
started on a loopback port): two replicas, the leader delivers every notification of a cycle and
the follower claims none; the leader publishes the cycle's results and the follower reads back
every instance. Only the numbers' shape is checked (timings are the machine's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.scalenotify import SHARE_ROUNDS, postgres_outbox
from sloguard.evaluation.resultcodec import encode_results
from tests.evaluation.test_resultcodec import results
from tests.support.pgserver import start_postgres


@pytest.mark.e2e
async def test_the_shared_store_part_delivers_once_and_shares_every_result(
    tmp_path: Path,
) -> None:
    evaluated = await results()
    firing = sum(1 for r in evaluated if r.evaluation is not None and r.evaluation.firing)
    with start_postgres(tmp_path) as url:
        got = await postgres_outbox(evaluated, url)
    assert got["delivered"] == got["queued"] > 0
    assert got["queued"] >= firing
    assert got["follower_claims"] == 0
    shared = got["results"]
    assert shared["instances"] == len(evaluated)
    assert shared["payload_bytes"] == len(encode_results(evaluated))
    assert shared["rounds"] == SHARE_ROUNDS
    assert shared["publish_s"] > 0 and shared["read_s"] > 0
