#!/usr/bin/env bash
# The container image, built, checked and run without a Docker engine (called by .ci/run).
#
#   bash .ci/image.sh             base image, build, image checks, run checks
#   bash .ci/image.sh --selftest  the same, then builds broken variants of the Dockerfile (a build
#                                 error, a root user, two writes outside the data volume, a
#                                 failing health check) and shows that each one fails, for its
#                                 reason (about 4 minutes more)
#
# Base image: Debian's mmdebstrap makes a bookworm root filesystem (python3, python3-venv,
# python-is-python3), imported into buildah (vfs storage in a temp dir). No registry is contacted:
# it reaches the Dockerfile through its PYTHON_IMAGE argument (users keep python:3.11-slim).
# The rootfs tarball is cached for a week in $SLOGUARD_IMAGE_CACHE (default ~/.cache/sloguard-ci).
# pip inside the build reaches the package index as the host's pip does: its index, proxy and
# CA settings are read at run time and mounted read-only into the RUN steps, never into the image.
# Running: a mount+network+pid namespace (only loopback), the image's rootfs bound read-only, an
# empty data volume at /var/lib/sloguard, the image's user, environment, working directory,
# entrypoint, command and HEALTHCHECK (.ci/image_tool.py exec).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
export DEBIAN_FRONTEND=noninteractive
SECONDS=0
MODE=check
case "${1:-}" in
  "") ;;
  --selftest) MODE=selftest ;;
  *) echo "usage: $0 [--selftest]" >&2; exit 2 ;;
esac

say() { printf '[image %3ds] %s\n' "$SECONDS" "$*"; }
fail() { printf '[image %3ds] FAIL: %s\n' "$SECONDS" "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (mmdebstrap, buildah and the namespaces of the run checks)"
need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v buildah >/dev/null || need+=(buildah)
command -v ip >/dev/null || need+=(iproute2)
command -v unshare >/dev/null && command -v nsenter >/dev/null || need+=(util-linux)
if [ "${#need[@]}" -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
TOOL=(python3 "$REPO/.ci/image_tool.py")

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/sloguard-image.XXXXXX")
B=(buildah --storage-driver vfs --root "$WORK/storage" --runroot "$WORK/runroot")
UPID=
cleanup() {
  if [ -n "$UPID" ]; then stop_container; fi
  "${B[@]}" umount --all >/dev/null 2>&1 || true
  if [ "${SLOGUARD_IMAGE_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

BASE=localhost/sloguard-ci-base:bookworm
PACKAGES=python3,python3-venv,python-is-python3,ca-certificates,passwd
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# The daemon's port, in the container's own network namespace: not the default 9464, so the
# HEALTHCHECK has to follow SLOGUARD_PORT as documented.
PORT=19464

# --- 1. the base image: a Debian rootfs with Python, no registry ------------------------------
base_image() {
  local cache=${SLOGUARD_IMAGE_CACHE:-${XDG_CACHE_HOME:-${HOME:-$WORK}/.cache}/sloguard-ci}
  local key tar ctr
  key=$(printf 'bookworm %s %s' "$PACKAGES" "$(date -u +%G-%V)" | sha256sum | cut -c1-16)
  tar=$cache/base-$key.tar
  if [ -s "$tar" ]; then
    say "base rootfs: cached $(basename "$tar")"
  else
    say "base rootfs: mmdebstrap bookworm ($PACKAGES)"
    mkdir -p "$cache"
    # An optional SLOGUARD_DEBIAN_MIRROR replaces mmdebstrap's default mirror.
    mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
      --aptopt='APT::Install-Recommends "false"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      bookworm "$WORK/base.tar" ${SLOGUARD_DEBIAN_MIRROR:+"$SLOGUARD_DEBIAN_MIRROR"} </dev/null \
      || fail "mmdebstrap could not make the base rootfs"
    rm -f "$cache"/base-*.tar
    mv "$WORK/base.tar" "$tar"
  fi
  ctr=$("${B[@]}" from scratch)
  "${B[@]}" add --quiet "$ctr" "$tar" / >/dev/null
  "${B[@]}" config --env LANG=C.UTF-8 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["python3"]' "$ctr"
  "${B[@]}" commit --quiet --rm "$ctr" "$BASE" >/dev/null
  say "base image: $BASE"
}

# --- the build's pip configuration (read from the host's pip at run time) ---------------------
# Mounted read-only over /root (root's home in every base image: the RUN steps' user), as
# ~/.config/pip/pip.conf and the CA bundle it names: a mount point that already exists leaves
# nothing behind in the image, where /etc/pip.conf would stay as an empty file.
pip_config() {
  local pip="python3 -m pip" ca
  [ -x .venv/bin/python ] && pip=".venv/bin/python -m pip"
  mkdir -p "$WORK/piphome/.config/pip"
  ca=$("${TOOL[@]}" pipconf --pip "$pip" "$WORK/piphome/.config/pip/pip.conf")
  if [ -n "$ca" ]; then cp "$ca" "$WORK/piphome/pip-build-ca.crt"; fi
  PIP_MOUNTS=(-v "$WORK/piphome:/root:ro")
  say "build's pip configuration: $(grep -c = "$WORK/piphome/.config/pip/pip.conf") setting(s)," \
    "CA bundle ${ca:-none}"
}

# --- 2. build ----------------------------------------------------------------------------------
build() { # DOCKERFILE TAG
  local rc=0
  say "buildah bud -f ${1#"$REPO"/} -t $2"
  "${B[@]}" bud --isolation chroot --network host --pull=never --format docker \
    -f "$1" -t "$2" \
    --build-arg PYTHON_IMAGE="$BASE" --build-arg VERSION="$VERSION" \
    --build-arg REVISION="$REVISION" --build-arg CREATED="$CREATED" \
    "${PIP_MOUNTS[@]}" "$REPO" 2>&1 | while IFS= read -r line; do
      printf '%(%T)T %s\n' -1 "$line"
    done >"$WORK/build.log" || rc=$?
  [ "$rc" = 0 ] || {
    tail -25 "$WORK/build.log" >&2
    fail "the Dockerfile did not build (buildah bud, log above)"
  }
  say "built $2"
}

# --- 3. check the image ------------------------------------------------------------------------
check_image() { # TAG -> sets INSPECT, ROOTFS
  INSPECT=$WORK/inspect.json
  "${B[@]}" inspect --type image "$1" >"$INSPECT"
  local ctr size
  ctr=$("${B[@]}" from --pull=never --quiet "$1")
  ROOTFS=$("${B[@]}" mount "$ctr")
  "${TOOL[@]}" check --inspect "$INSPECT" --rootfs "$ROOTFS" --version "$VERSION" \
    --revision "$REVISION" --created "$CREATED" || fail "the image breaks its contract (above)"
  size=$("${B[@]}" images --format '{{.Size}}' "$1" | head -1)
  say "image size: $size (rootfs $(du -sh "$ROOTFS" | cut -f1); base $("${B[@]}" images \
    --format '{{.Size}}' "$BASE" | head -1))"
}

# --- 4. run it ---------------------------------------------------------------------------------
# The container: the rootfs bound (read-only unless RW=1) on a fresh directory, the data volume,
# /proc, a minimal read-only /dev, loopback up; then image_tool.py exec becomes its PID 1.
# shellcheck disable=SC2016 # expanded by the bash inside unshare
SETUP='set -eu
root=$1 new=$2 data=$3 rw=$4; shift 4
mount --make-rprivate /
mount --bind "$root" "$new"
mount --bind "$data" "$new/var/lib/sloguard"
mount -t proc -o nosuid,nodev,noexec proc "$new/proc"
mount -t tmpfs -o nosuid,mode=0755,size=1m dev "$new/dev"
for n in null zero full random urandom; do
  touch "$new/dev/$n"; mount --bind "/dev/$n" "$new/dev/$n"
done
mount -o remount,ro,nosuid "$new/dev"
[ "$rw" = 1 ] || mount -o remount,bind,ro "$new"
ip link set lo up
exec "$@"'

start_container() { # NAME RW ARGS... -> sets CPID (host pid of PID 1), UPID, LOG, NEWROOT
  local name=$1 rw=$2
  shift 2
  NEWROOT=$WORK/$name-root
  DATA=$WORK/$name-data
  LOG=$WORK/$name.log
  mkdir -p "$NEWROOT" "$DATA"
  chown 10001:10001 "$DATA" # as Docker fills a new volume: the image's /var/lib/sloguard
  chmod 0750 "$DATA"
  unshare --mount --net --pid --fork bash -c "$SETUP" setup "$ROOTFS" "$NEWROOT" "$DATA" "$rw" \
    "${TOOL[@]}" exec --inspect "$INSPECT" --root "$NEWROOT" --env SLOGUARD_PORT="$PORT" \
    -- "$@" >"$LOG" 2>&1 &
  UPID=$!
  CPID=
  for _ in $(seq 50); do
    CPID=$(awk '{print $1}' "/proc/$UPID/task/$UPID/children" 2>/dev/null) || true
    [ -n "$CPID" ] && break
    sleep 0.1
  done
  [ -n "$CPID" ] || fail "the container did not start: $(tail -5 "$LOG")"
}

in_net() { nsenter --target "$CPID" --net -- "$@"; }

stop_container() { # kill what start_container started, by id
  if kill -0 "$UPID" 2>/dev/null; then
    kill -KILL "$CPID" 2>/dev/null || true
    wait "$UPID" 2>/dev/null || true
  fi
}

refused_writes() { # LOG: lines where a write outside the data volume was refused
  grep -E 'Read-only file system|EROFS' "$1" | head -5 || true
}

run_checks() {
  local url=http://127.0.0.1:$PORT ok=0 hc_timeout drain rc start refused
  say "run: the image's entrypoint, command and user, read-only root, SLOGUARD_PORT=$PORT"
  start_container daemon 0
  for _ in $(seq 60); do
    if in_net "${TOOL[@]}" probe "$url/healthz" --timeout 2 >/dev/null 2>&1; then ok=1; break; fi
    kill -0 "$UPID" 2>/dev/null || break
    sleep 0.5
  done
  refused=$(refused_writes "$LOG")
  if [ -n "$refused" ]; then
    tail -15 "$LOG" >&2
    fail "the daemon wrote outside /var/lib/sloguard (refused by the read-only root): $refused"
  fi
  [ "$ok" = 1 ] || { tail -20 "$LOG" >&2; fail "the daemon never answered $url/healthz"; }
  for path in /healthz /readyz /metrics; do
    local passed=0
    for _ in $(seq 20); do
      if in_net "${TOOL[@]}" probe "$url$path" >"$WORK/probe.out" 2>&1; then passed=1; break; fi
      sleep 0.5
    done
    [ "$passed" = 1 ] || fail "$path: $(cat "$WORK/probe.out")"
    say "$(cat "$WORK/probe.out")"
  done
  hc_timeout=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["Docker"]["config"]
print(max(1, int((c.get("Healthcheck") or {}).get("Timeout", 30e9) / 1e9)))' "$INSPECT")
  if ! nsenter --target "$CPID" --net --mount -- timeout "$hc_timeout" "${TOOL[@]}" exec \
    --healthcheck --inspect "$INSPECT" --root "$NEWROOT" --env SLOGUARD_PORT="$PORT" \
    >"$WORK/hc.log" 2>&1; then
    tail -5 "$WORK/hc.log" >&2
    fail "the image's HEALTHCHECK failed inside the container (output above; its timeout ${hc_timeout}s)"
  fi
  say "HEALTHCHECK (the image's own command, inside the container): passed"
  refused=$(refused_writes "$LOG")
  [ -z "$refused" ] || fail "the daemon wrote outside /var/lib/sloguard: $refused"
  [ -n "$(ls -A "$WORK/daemon-data")" ] || fail "the daemon wrote nothing to /var/lib/sloguard"
  say "data volume: $(cd "$WORK/daemon-data" && ls | tr '\n' ' ')"

  drain=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["Docker"]["config"]
e=dict(x.split("=",1) for x in c.get("Env") or []); print(e.get("SLOGUARD_DRAIN_TIMEOUT","10"))' \
    "$INSPECT")
  start=$SECONDS
  kill -TERM "$CPID"
  for _ in $(seq $(((${drain%.*} + 5) * 10))); do
    kill -0 "$UPID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$UPID" 2>/dev/null; then
    stop_container
    fail "SIGTERM did not stop the daemon within its drain timeout (${drain}s + 5s)"
  fi
  rc=0
  wait "$UPID" || rc=$?
  [ "$rc" = 0 ] || { tail -5 "$LOG" >&2; fail "after SIGTERM the daemon exited with $rc"; }
  grep -q 'sloguard stopped' "$LOG" || fail "no 'sloguard stopped' in the log after SIGTERM"
  say "SIGTERM: stopped cleanly (exit 0) in $((SECONDS - start))s (drain timeout ${drain}s)"

  # sloguard demo, on a writable root this time: what it changes outside the volume is a failure.
  "${TOOL[@]}" snapshot "$ROOTFS" "$WORK/before.json"
  start_container demo 1 demo --host 127.0.0.1 --port "$PORT" --data-dir /var/lib/sloguard/demo \
    --duration 8 --incident-after 3 --interval 1
  rc=0
  timeout 60 tail --pid="$UPID" -f /dev/null || true
  if kill -0 "$UPID" 2>/dev/null; then stop_container; fail "sloguard demo --duration 8 still ran after 60 s"; fi
  wait "$UPID" || rc=$?
  [ "$rc" = 0 ] || { tail -15 "$LOG" >&2; fail "sloguard demo exited with $rc"; }
  "${TOOL[@]}" snapshot "$ROOTFS" "$WORK/after.json"
  if ! "${TOOL[@]}" diff "$WORK/before.json" "$WORK/after.json" >"$WORK/diff.txt"; then
    cat "$WORK/diff.txt" >&2
    fail "sloguard demo wrote outside /var/lib/sloguard: $(head -3 "$WORK/diff.txt" | tr '\n' ' ')"
  fi
  say "sloguard demo: exit 0 after 8 s, nothing written outside /var/lib/sloguard"
}

pipeline() { # DOCKERFILE TAG
  build "$1" "$2"
  check_image "$2"
  run_checks
}

base_image
pip_config
pipeline "$REPO/Dockerfile" localhost/sloguard:ci
say "image checks passed (${SECONDS}s)"
[ "$MODE" = selftest ] || exit 0

# --- 5. selftest: each broken variant must fail, for its own reason ----------------------------
variant() { # NAME EXPECTED-MESSAGE PYTHON-EDIT (of the Dockerfile text in `t`)
  local name=$1 expected=$2 edit=$3 dir=$WORK/variant-$1 rc=0
  mkdir -p "$dir"
  python3 - "$REPO/Dockerfile" "$dir/Dockerfile" "$edit" <<'EOF'
import sys
t = open(sys.argv[1], encoding="utf-8").read()
new = eval(sys.argv[3])  # a str.replace() of t, written below
assert new != t, "the edit changed nothing: the Dockerfile moved on, fix the selftest"
open(sys.argv[2], "w", encoding="utf-8").write(new)
EOF
  (set -e; UPID=; trap 'if [ -n "$UPID" ]; then stop_container; fi' EXIT; pipeline "$dir/Dockerfile" \
    "localhost/sloguard:selftest-$name") >"$dir/out.log" 2>&1 || rc=$?
  if [ "$rc" = 0 ]; then
    fail "selftest: the $name variant passed every check"
  fi
  grep -F -- "$expected" "$dir/out.log" >/dev/null || {
    cat "$dir/out.log" >&2
    fail "selftest: the $name variant failed, but not with '$expected'"
  }
  say "selftest: $name -> $(grep -F -- "$expected" "$dir/out.log" | head -1 | sed 's/^\[image *[0-9]*s\] //')"
}

variant broken-dockerfile "FAIL: the Dockerfile did not build" \
  't.replace("COPY sloguard ./sloguard", "COPY sloguard-typo ./sloguard")'
variant root-user "the image runs as root" \
  't.replace("USER 10001:10001", "USER 0:0")'
# A write to /tmp (prometheus_client's multiprocess files): refused by the read-only root.
variant write-outside-volume "FAIL: the daemon wrote outside /var/lib/sloguard" \
  't.replace("USER 10001:10001", "ENV PROMETHEUS_MULTIPROC_DIR=/tmp\nUSER 10001:10001")'
# Byte code written at run time into a writable venv: Python ignores the refused writes under a
# read-only root, so only the writable-root run of sloguard demo and its rootfs diff see them.
variant bytecode-at-run-time "FAIL: sloguard demo wrote outside /var/lib/sloguard" \
  't.replace("USER 10001:10001", "RUN find /opt/venv -name __pycache__ -prune -exec rm -rf {} +'\
' && chown -R 10001:10001 /opt/venv\nENV PYTHONDONTWRITEBYTECODE=\nUSER 10001:10001")'
variant failing-healthcheck "FAIL: the image's HEALTHCHECK failed" \
  't.replace("127.0.0.1:%s/healthz", "127.0.0.1:%s/health")'
say "selftest passed: 5 broken Dockerfiles, each failed for its reason (${SECONDS}s)"
