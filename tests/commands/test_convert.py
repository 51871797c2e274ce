"""``sloguard convert``: peer formats to sloguard/v1 and back, checked like ``validate``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sloguard.cli import main
from sloguard.slo.loader import check_slo_file, check_slo_text
from sloguard.slo.promql import bad_and_total
from sloguard.slo.spec import SLO

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "tests" / "data" / "peers"
#: Peer files that load clean (the loaders' own tests cover the ones made to fail).
PEER_FILES = [
    "sloth/checkout.yaml",
    "sloth/crd.yaml",
    "pyrra/slos.yaml",
    "openslo/v1-checkout.yaml",
    "openslo/v1-web.yaml",
    "openslo/v1alpha.yaml",
    "slogenerator/availability-ratio.yaml",
    "slogenerator/latency-distribution-cut.yaml",
    "slogenerator/latency-query-sli.yaml",
]
SIMPLE = """\
apiVersion: sloguard/v1
slos:
  - name: checkout-availability
    objective: 99.5
    sli: {kind: success_rate}
    selector: {agent_name: checkout}
    alerting: {labels: {team: payments}, runbook: https://runbooks.example.com/checkout}
  - name: checkout-latency
    objective: 99
    sli: {kind: latency, threshold: 5}
    selector: {agent_name: checkout}
"""


def _same(slo: SLO) -> SLO:
    """The SLO without where it was read from."""
    return dataclasses.replace(slo, source_file="", source_line=None)


def _windows_queries(slo: SLO) -> list[tuple[str, str]]:
    return [bad_and_total(slo, w) for w in sorted(slo.windows())]


def _convert(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["convert", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", PEER_FILES)
def test_a_peer_file_becomes_the_same_slos_in_sloguard_form(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = check_slo_file(PEERS / name)
    assert source.slo_file is not None, source.problems
    code, out, _err = _convert(capsys, str(PEERS / name))
    assert code == 0
    assert out.startswith("# Converted from ")
    converted = check_slo_text(out, "converted.yaml")
    assert converted.problems == ()
    assert converted.format == "sloguard/v1"
    assert converted.slo_file is not None
    assert [_same(s) for s in converted.slo_file.slos] == [_same(s) for s in source.slo_file.slos]


@pytest.mark.parametrize("to", ["sloth", "openslo"])
def test_sloguard_to_a_peer_and_back_evaluates_the_same(
    to: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = tmp_path / "slos.yaml"
    original.write_text(SIMPLE, encoding="utf-8")
    peer = tmp_path / f"{to}.yaml"
    code, _out, err = _convert(capsys, str(original), "--to", to, "-o", str(peer))
    assert code == 0, err
    assert f"wrote {peer} ({to})" in err
    back = tmp_path / "back.yaml"
    code, _out, err = _convert(capsys, str(peer), "-o", str(back))
    assert code == 0, err
    first, again = check_slo_file(original).slo_file, check_slo_file(back).slo_file
    assert first is not None and again is not None
    assert [s.name for s in again.slos] == [s.name for s in first.slos]
    for a, b in zip(first.slos, again.slos, strict=True):
        assert (a.objective, a.period, a.alerting.policy.tiers) == (
            b.objective,
            b.period,
            b.alerting.policy.tiers,
        )
        if to == "openslo":  # built-in kinds come back as themselves
            assert a.sli == b.sli
            assert _windows_queries(a) == _windows_queries(b)
        else:  # Sloth has no built-in kinds: sloguard's own query, summed once more (same value)
            wrapped = [(f"sum ({bad})", f"sum ({total})") for bad, total in _windows_queries(a)]
            assert _windows_queries(b) == wrapped


def test_config_slos_round_trip_through_openslo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    peer, back = tmp_path / "openslo.yaml", tmp_path / "back.yaml"
    assert _convert(capsys, "config/slos.yaml", "--to", "openslo", "-o", str(peer))[0] == 0
    assert _convert(capsys, str(peer), "-o", str(back))[0] == 0
    first, again = check_slo_file(ROOT / "config/slos.yaml").slo_file, check_slo_file(back)
    assert first is not None and again.slo_file is not None, again.problems
    for a, b in zip(first.slos, again.slo_file.slos, strict=True):
        assert a.name == b.name
        assert _windows_queries(a) == _windows_queries(b)


def test_slo_generator_config_gives_the_windows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "shared.yaml"
    config.write_text(
        "error_budget_policies:\n"
        "  default:\n"
        "    steps:\n"
        "      - {name: 1 hour, window: 3600, burn_rate_threshold: 9, alert: true}\n"
        "      - {name: 28 days, window: 2419200, burn_rate_threshold: 1, alert: false}\n",
        encoding="utf-8",
    )
    source = str(PEERS / "slogenerator/availability-ratio.yaml")
    code, out, _err = _convert(capsys, source, "--slo-generator-config", str(config))
    assert code == 0
    converted = check_slo_text(out).slo_file
    assert converted is not None
    (slo,) = converted.slos
    assert slo.period == 28 * 86400
    assert [(t.long_window, t.factor) for t in slo.alerting.policy.tiers] == [(3600.0, 9)]


def test_mistakes_are_reported_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "sloth.yaml"
    bad.write_text(
        "version: prometheus/v1\nservice: shop\nslos:\n  - name: a\n    objective: 150\n"
        "    sli: {events: {error_query: x, total_query: y}}\n"
        "    alerting: {name: A}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.yaml"
    code, _out, err = _convert(capsys, str(bad), "-o", str(out))
    assert code == 1
    assert f"{bad}:5: slos[0].objective:" in err
    assert not out.exists()

    plain = tmp_path / "slos.yaml"
    plain.write_text(SIMPLE, encoding="utf-8")
    code, _out, err = _convert(capsys, str(plain))
    assert code == 1
    assert "is already a sloguard/v1 file: give --to sloth or --to openslo" in err

    code, _out, err = _convert(capsys, str(plain), "--to", "sloguard")
    assert code == 1
    assert "is already a sloguard/v1 file" in err

    config = tmp_path / "shared.yaml"
    config.write_text("error_budget_policies: [a]\n", encoding="utf-8")
    source = str(PEERS / "slogenerator/availability-ratio.yaml")
    code, _out, err = _convert(capsys, source, "--slo-generator-config", str(config))
    assert code == 1
    assert f"{config}:1: error_budget_policies: must be a mapping of named policies" in err


def test_what_sloth_cannot_say_is_a_problem_at_the_sloguard_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grouped = tmp_path / "slos.yaml"
    grouped.write_text(
        SIMPLE.replace("    selector: {agent_name: checkout}\n", "    group_by: [agent_name]\n", 1),
        encoding="utf-8",
    )
    code, out, err = _convert(capsys, str(grouped), "--to", "sloth")
    assert code == 1
    assert out == ""
    assert f"{grouped}:" in err and "group_by" in err
