"""The chart running more than one evaluator: only on a shared PostgreSQL store (schema and
template both say so, with the fix in the message), spread over nodes, drained one at a time,
the password from the Secret, and sidecars writing their traces to the same store.

Uses helm as tests/packaging/test_helm.py obtains it (a missing helm fails under ``CI``).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.packaging.test_helm import helm, one, render, render_error, settings_configmap, values

__all__ = ["helm"]  # the fixture, imported for this module's tests

Doc = dict[str, Any]
URL = "postgresql://sloguard@postgres.databases:5432/sloguard"
EVALUATORS = ("--set", "mode=evaluator", "--set", "config.prometheus.url=http://p:9090")
SERVER = {
    "app.kubernetes.io/name": "sloguard",
    "app.kubernetes.io/instance": "sg",
    "app.kubernetes.io/component": "server",
}


def env_of(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


def test_replicas_share_the_postgresql_store(helm: str) -> None:
    docs = render(helm, "-f", values("ha-values.yaml"))
    deployment = one(docs, "Deployment", "sg-sloguard")
    assert deployment["spec"]["replicas"] == 3
    # A leader is elected in the store: no need to stop the old pod before the new one starts.
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["affinity"] == {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": SERVER},
                    },
                }
            ]
        }
    }
    settings = yaml.safe_load(settings_configmap(docs)["data"]["sloguard.yaml"])
    assert settings["storage"] == {"url": URL}
    (container,) = pod["containers"]
    password = env_of(container)["SLOGUARD_STORAGE__PASSWORD"]
    assert password == {
        "name": "SLOGUARD_STORAGE__PASSWORD",
        "valueFrom": {
            "secretKeyRef": {"name": "sloguard-tokens", "key": "storage-password", "optional": True}
        },
    }
    budget = one(docs, "PodDisruptionBudget")
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": SERVER}}


def test_sidecars_write_their_traces_to_the_shared_store(helm: str) -> None:
    docs = render(helm, "-f", values("ha-values.yaml"))
    demo = one(docs, "Deployment", "sg-sloguard-demo-agent")["spec"]["template"]["spec"]
    (sidecar,) = [c for c in demo["initContainers"] if c["name"] == "sloguard"]
    env = env_of(sidecar)
    assert env["SLOGUARD_STORAGE__URL"]["value"] == URL
    assert env["SLOGUARD_STORAGE__PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == (
        "storage-password"
    )
    (agent,) = demo["containers"]
    assert "SLOGUARD_STORAGE__PASSWORD" not in env_of(agent)  # the agent never sees it
    assert "SLOGUARD_INGEST__TOKEN" in env_of(agent)

    off = render(helm, "-f", values("ha-values.yaml"), "--set", "sidecar.sharedStore=false")
    demo = one(off, "Deployment", "sg-sloguard-demo-agent")["spec"]["template"]["spec"]
    (sidecar,) = [c for c in demo["initContainers"] if c["name"] == "sloguard"]
    assert "SLOGUARD_STORAGE__URL" not in env_of(sidecar)


def test_a_single_replica_on_sqlite_is_unchanged(helm: str) -> None:
    docs = render(helm, *EVALUATORS)
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "storage" not in yaml.safe_load(settings_configmap(docs)["data"]["sloguard.yaml"])
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget"]  # a toggle, off
    sidecar_docs = render(helm, "-f", values("sidecar-values.yaml"))
    demo = one(sidecar_docs, "Deployment", "sg-sloguard-demo-agent")["spec"]["template"]["spec"]
    assert all("SLOGUARD_STORAGE__URL" not in env_of(c) for c in demo["initContainers"])


@pytest.mark.parametrize("url", ["", "sqlite:///var/lib/sloguard/x.db"])
def test_more_than_one_evaluator_needs_a_postgresql_url(helm: str, url: str) -> None:
    args = (*EVALUATORS, "--set", "replicaCount=2", "--set-string", f"config.storage.url={url}")
    assert "replicaCount" in render_error(helm, *args)
    message = render_error(helm, *args, "--skip-schema-validation")
    assert 'replicaCount 2 in mode "evaluator" needs a shared PostgreSQL store' in message
    assert "set storage.url: postgresql://" in message


@pytest.mark.parametrize("where", ["storage.url", "config.storage.url"])
def test_either_storage_url_allows_replicas(helm: str, where: str) -> None:
    docs = render(helm, *EVALUATORS, "--set", "replicaCount=2", "--set", f"{where}={URL}")
    assert one(docs, "Deployment")["spec"]["replicas"] == 2
    settings = yaml.safe_load(settings_configmap(docs)["data"]["sloguard.yaml"])
    assert settings["storage"]["url"] == URL


def test_a_password_in_the_storage_url_is_refused(helm: str) -> None:
    error = render_error(helm, "--set", "storage.url=postgresql://sloguard:hunter2@db/sloguard")
    assert "storage.url" in error


def test_replicas_cannot_share_one_readwriteonce_volume(helm: str) -> None:
    args = (*EVALUATORS, "--set", "replicaCount=2", "--set", f"storage.url={URL}")
    message = render_error(helm, *args, "--set", "persistence.enabled=true")
    assert "one ReadWriteOnce volume cannot serve every replica" in message
    assert "persistence.enabled: false" in message


def test_the_budget_takes_min_available_or_max_unavailable_not_both(helm: str) -> None:
    on = ("--set", "podDisruptionBudget.enabled=true")
    docs = render(
        helm,
        *on,
        "--set",
        "podDisruptionBudget.minAvailable=50%",
        "--set",
        "podDisruptionBudget.maxUnavailable=null",
    )
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == "50%"
    both = render_error(helm, *on, "--set", "podDisruptionBudget.minAvailable=1")
    assert "set minAvailable or maxUnavailable, not both" in both
    wrong = render_error(helm, *on, "--set", "podDisruptionBudget.maxUnavailable=half")
    assert "maxUnavailable" in wrong


def test_anti_affinity_presets_and_an_explicit_affinity(helm: str) -> None:
    def affinity(*args: str) -> Doc | None:
        pod = one(render(helm, *args), "Deployment")["spec"]["template"]["spec"]
        found: Doc | None = pod.get("affinity")
        return found

    hard = affinity("--set", "podAntiAffinity=hard", "--set", "podAntiAffinityTopologyKey=zone")
    assert hard is not None
    (term,) = hard["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term == {"topologyKey": "zone", "labelSelector": {"matchLabels": SERVER}}
    assert affinity("--set", "podAntiAffinity=") is None
    mine = affinity("--set", "affinity.nodeAffinity.x=y")
    assert mine == {"nodeAffinity": {"x": "y"}}  # given: used as is, no preset added
    assert "podAntiAffinity" in render_error(helm, "--set", "podAntiAffinity=always")
