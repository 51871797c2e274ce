"""Validate manifests rendered by ``helm template`` (called by .ci/helm.sh, once per values file).

Every document of every MANIFEST is checked:

* core kinds (Deployment, Service, ConfigMap, ...) with kubernetes-validate in strict mode (an
  unknown field is an error) for each ``--kube-version``;
* ServiceMonitor, PodMonitor and PrometheusRule (monitoring.coreos.com/v1) and
  AlertmanagerConfig (monitoring.coreos.com/v1alpha1) with jsonschema against the vendored CRD
  schemas in ``--crds`` (helm/sloguard/ci/crds, see its README.md),
  closed like ``kubectl apply --validate=strict``; any other kind is an error;
* with ``--promtool``, each PrometheusRule's groups with ``promtool check rules``;
* each sloguard settings ConfigMap (key ``sloguard.yaml``) with ``sloguard validate --config``,
  its files laid out as the Deployment mounts them.

Prints one line per problem (``manifest: Kind/name: problem``) and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import kubernetes_validate  # type: ignore[import-untyped, unused-ignore]
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

from sloguard.settings.model import SECRET_PATHS, env_name

CRD_GROUP = "monitoring.coreos.com/"
CRD_FILES = {
    "ServiceMonitor": "servicemonitors.json",
    "PodMonitor": "podmonitors.json",
    "PrometheusRule": "prometheusrules.json",
    "AlertmanagerConfig": "alertmanagerconfigs.json",
}
#: The API version each vendored schema is of (v1 unless listed).
CRD_VERSIONS = {"AlertmanagerConfig": "v1alpha1"}
#: Where the chart mounts its ConfigMap (templates/deployment.yaml).
CONFIG_MOUNT = "/etc/sloguard/"
MIN_KUBE_VERSION = "1.29.0"  # native sidecars (initContainers with restartPolicy: Always)


def closed(schema: Any) -> Any:
    """Return ``schema`` with every object that lists ``properties`` closed to other fields."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def load_crd_validators(crds: Path) -> dict[str, jsonschema.Draft7Validator]:
    validators = {}
    for kind, name in CRD_FILES.items():
        schema = closed(json.loads((crds / name).read_text(encoding="utf-8")))
        jsonschema.Draft7Validator.check_schema(schema)
        validators[kind] = jsonschema.Draft7Validator(schema)
    return validators


def documents(manifest: Path) -> Iterator[dict[str, Any]]:
    for doc in yaml.safe_load_all(manifest.read_text(encoding="utf-8")):
        if doc is not None:
            yield doc


def name_of(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    return f"{doc.get('kind', '?')}/{meta.get('name', '?') if isinstance(meta, dict) else '?'}"


def where(path: Any) -> str:
    return ".".join(str(p) for p in path) or "(root)"


def core_validator(api_version: str, kind: str, version: str) -> jsonschema.protocols.Validator:
    """kubernetes-validate's strict schema of ``kind`` for Kubernetes ``version``, as a validator
    that reports every error (``kubernetes_validate.validate`` raises the first one only)."""
    key = (api_version, kind, version)
    if key not in _CORE:
        wanted = kv_utils.major_minor(version)
        known = [v for v in kv_utils.all_versions() if kv_utils.major_minor(v) <= wanted]
        if not known:
            raise kv_utils.VersionNotSupportedError(version)
        folder = f"kubernetes-json-schema/v{known[-1]}-local-strict"
        group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        try:
            schema = kv_utils.schema_contents(f"{folder}/{kind.lower()}-{group}.json", version)
        except FileNotFoundError:
            raise kv_utils.SchemaNotFoundError(kind, wanted, api_version) from None
        definitions = kv_utils.schema_contents(f"{folder}/_definitions.json", version)
        registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
        registry = Resource.from_contents(definitions) @ registry
        _CORE[key] = jsonschema.Draft202012Validator(schema, registry=registry)
    return _CORE[key]


_CORE: dict[tuple[str, str, str], jsonschema.protocols.Validator] = {}


def check_core(doc: dict[str, Any], kube_versions: list[str]) -> list[str]:
    problems = []
    for version in kube_versions:
        try:
            validator = core_validator(str(doc["apiVersion"]), str(doc["kind"]), version)
        except kv_utils.SchemaNotFoundError as exc:
            problems.append(exc.message)
            continue
        shown = kv_utils.major_minor(version)
        problems.extend(
            f"Kubernetes {shown}: {where(e.absolute_path)}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))
        )
    return problems


def check_custom(
    doc: dict[str, Any], validators: dict[str, jsonschema.Draft7Validator]
) -> list[str]:
    kind = str(doc.get("kind"))
    validator = validators.get(kind)
    if validator is None or doc.get("apiVersion") != CRD_GROUP + CRD_VERSIONS.get(kind, "v1"):
        return [f"no vendored schema for {doc.get('apiVersion')} {doc.get('kind')}"]
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [f"CRD schema: {where(e.absolute_path)}: {e.message}" for e in errors]


def check_rules(doc: dict[str, Any], promtool: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": doc["spec"]["groups"]}), encoding="utf-8")
        done = subprocess.run(
            [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
        )
    if done.returncode == 0:
        return []
    return [
        f"promtool check rules: {line}"
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and not line.startswith("Checking ")
    ]


def secret_env_names(docs: list[dict[str, Any]]) -> set[str]:
    """Names of the environment variables the workloads take from Secrets."""
    names = set()
    for doc in docs:
        pod = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
            for var in container.get("env") or []:
                if "secretKeyRef" in (var.get("valueFrom") or {}):
                    names.add(var["name"])
    return names


def check_settings(doc: dict[str, Any], secret_env: set[str]) -> list[str]:
    """``sloguard validate --config`` on the ConfigMap's files, laid out as mounted.

    Variables the pods take from Secrets (optional references) are set to placeholders, so a
    routing file's ``token_env`` finds its variable, except the settings' own secrets: whether
    the Secret has those keys is not known here, and they are valid unset.
    """
    data: dict[str, str] = doc.get("data") or {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for key, text in data.items():
            path = root / (f"slos/{key[5:]}" if key.startswith("slos.") else key)
            path.parent.mkdir(parents=True, exist_ok=True)
            mounted = text.replace(CONFIG_MOUNT, f"{root}/") if key == "sloguard.yaml" else text
            path.write_text(mounted, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLOGUARD_")}
        settings_secrets = {env_name(path) for path in SECRET_PATHS}
        env.update(dict.fromkeys(secret_env - settings_secrets, "placeholder-from-secret"))
        done = subprocess.run(
            [sys.executable, "-m", "sloguard", "validate", "--config", str(root / "sloguard.yaml")],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    if done.returncode == 0:
        return []
    out = (done.stdout + done.stderr).replace(f"{root}/", CONFIG_MOUNT)
    return [f"sloguard validate: {line}" for line in out.splitlines() if line.strip()]


def check(
    manifest: Path, args: argparse.Namespace, validators: dict[str, jsonschema.Draft7Validator]
) -> list[str]:
    problems: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    docs = list(documents(manifest))
    secret_env = secret_env_names([d for d in docs if isinstance(d, dict)])
    for doc in docs:
        if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
            problems.append(f"{manifest}: a document without apiVersion/kind: {str(doc)[:80]}")
            continue
        label = name_of(doc)
        key = (str(doc["kind"]), str((doc.get("metadata") or {}).get("namespace", "")), label)
        if key in seen:
            problems.append(f"{manifest}: {label}: rendered twice")
        seen.add(key)
        if str(doc["apiVersion"]).startswith(CRD_GROUP):
            found = check_custom(doc, validators)
            if not found and doc["kind"] == "PrometheusRule" and args.promtool:
                found = check_rules(doc, args.promtool)
        else:
            found = check_core(doc, args.kube_version)
            data = doc.get("data")
            if (
                not found
                and doc["kind"] == "ConfigMap"
                and isinstance(data, dict)
                and "sloguard.yaml" in data
            ):
                found = check_settings(doc, secret_env)
        problems.extend(f"{manifest}: {label}: {p}" for p in found)
    if not docs:
        problems.append(f"{manifest}: no documents")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="+", type=Path, metavar="MANIFEST")
    parser.add_argument("--crds", type=Path, required=True, help="vendored CRD schema directory")
    parser.add_argument(
        "--kube-version",
        action="append",
        default=None,
        help=f"Kubernetes version to validate core kinds against (repeatable; default "
        f"{MIN_KUBE_VERSION} and kubernetes-validate's latest)",
    )
    parser.add_argument("--promtool", help="promtool binary: check PrometheusRule groups")
    args = parser.parse_args(argv)
    if args.kube_version is None:
        args.kube_version = [MIN_KUBE_VERSION, kubernetes_validate.latest_version()]
    validators = load_crd_validators(args.crds)
    problems = [p for manifest in args.manifests for p in check(manifest, args, validators)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
