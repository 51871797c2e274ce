"""Helpers of .ci/image.sh (standard library only, run with the host's python3).

pipconf OUT          write the build's pip.conf (network settings of the host's pip) to OUT,
                     print the CA bundle to mount beside it
check                hold a built image (buildah inspect JSON + its mounted rootfs) to the
                     documented contract
exec                 run the image's entrypoint/command (or its HEALTHCHECK) in a rootfs:
                     chroot, working directory, numeric user, the image's environment
snapshot ROOT OUT    list every file of ROOT (but /proc, /dev, /sys and the data volume)
diff A B             the files that differ between two snapshots (exit 1 when any)
probe URL            GET URL, exit 0 on HTTP 200
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DATA_DIR = "/var/lib/sloguard"
USER = "10001:10001"
ENTRYPOINT = ["sloguard"]
CMD = ["run", "--host", "0.0.0.0", "--data-dir", DATA_DIR]
PORT = "9464/tcp"
#: Where the build's pip configuration and CA bundle are mounted (read-only) during RUN steps.
BUILD_CA = "/root/pip-build-ca.crt"
COMPILERS = ("cc", "c++", "gcc", "g++", "clang", "clang++", "tcc", "c89", "c99")
#: pip options that say how the package index is reached (the rest stays on the host).
NETWORK_OPTIONS = ("index-url", "extra-index-url", "trusted-host", "proxy", "timeout", "retries")
SKIP = ("proc", "dev", "sys", DATA_DIR.strip("/"))


# --- pipconf -----------------------------------------------------------------------------------


def pip_settings(pip: list[str]) -> dict[str, str]:
    """The host pip's effective settings, from ``pip config list`` (environment wins)."""
    listed = subprocess.run(
        [*pip, "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    files: dict[str, str] = {}
    env: dict[str, str] = {}
    for line in listed.splitlines():
        name, sep, raw = line.partition("=")
        if not sep or "." not in name:
            continue
        section, key = name.split(".", 1)
        if section not in (":env:", "global", "install", "wheel", "download"):
            continue
        key = "timeout" if key == "default-timeout" else key
        try:
            value = str(ast.literal_eval(raw))
        except (ValueError, SyntaxError):
            value = raw.strip("'\"")
        (env if section == ":env:" else files)[key] = value
    return {**files, **env}


def pipconf(out: Path, pip: list[str]) -> None:
    settings = pip_settings(pip)
    lines = ["[global]"]
    for key in NETWORK_OPTIONS:
        if key not in settings:
            continue
        words = settings[key].split()
        if key.endswith("index-url"):
            dropped = [w for w in words if not w.startswith(("http://", "https://"))]
            if dropped:
                print(
                    f"pipconf: not passed to the build (host paths): {key} {dropped}",
                    file=sys.stderr,
                )
            words = [w for w in words if w.startswith(("http://", "https://"))]
        if words:
            lines.append(f"{key} = {' '.join(words)}")
    candidates = [
        settings.get("cert", ""),
        os.environ.get("REQUESTS_CA_BUNDLE", ""),
        os.environ.get("SSL_CERT_FILE", ""),
        "/etc/ssl/certs/ca-certificates.crt",
    ]
    ca = next((c for c in candidates if c and Path(c).is_file()), "")
    if ca:
        lines.append(f"cert = {BUILD_CA}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(ca)


# --- check -------------------------------------------------------------------------------------


def docker_config(inspect: Path) -> dict[str, Any]:
    data = json.loads(inspect.read_text(encoding="utf-8"))
    config = (data.get("Docker") or {}).get("config") or {}
    assert isinstance(config, dict)
    return config


def in_root(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def env_of(config: dict[str, Any]) -> dict[str, str]:
    return dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)


def check(args: argparse.Namespace) -> int:
    config = docker_config(args.inspect)
    root: Path = args.rootfs
    problems: list[str] = []
    user = config.get("User") or ""
    if user != USER:
        problems.append(f"the image runs as user {user or 'root (no USER)'!r}, want {USER}")
    uid = user.split(":")[0]
    if uid in ("", "0", "root"):
        problems.append("the image runs as root")
    if config.get("Entrypoint") != ENTRYPOINT:
        problems.append(f"entrypoint {config.get('Entrypoint')} is not the documented {ENTRYPOINT}")
    if config.get("Cmd") != CMD:
        problems.append(f"default command {config.get('Cmd')} is not the documented {CMD}")
    if config.get("WorkingDir") != DATA_DIR:
        problems.append(f"working directory {config.get('WorkingDir')!r}, want {DATA_DIR}")
    if DATA_DIR not in (config.get("Volumes") or {}):
        problems.append(f"{DATA_DIR} is not a VOLUME")
    if PORT not in (config.get("ExposedPorts") or {}):
        problems.append(f"{PORT} is not exposed")
    test = (config.get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        problems.append("the image has no HEALTHCHECK")
    labels = config.get("Labels") or {}
    want = {
        "org.opencontainers.image.title": "sloguard",
        "org.opencontainers.image.version": args.version,
        "org.opencontainers.image.revision": args.revision,
        "org.opencontainers.image.created": args.created,
        "org.opencontainers.image.licenses": "Apache-2.0",
    }
    for label, value in want.items():
        if labels.get(label) != value:
            problems.append(f"label {label}={labels.get(label)!r}, want {value!r}")
    for label, value in labels.items():
        if label.startswith("org.opencontainers.") and value in ("", "unknown"):
            problems.append(f"label {label} is not filled ({value!r})")

    env = env_of(config)
    dirs = [*env.get("PATH", "").split(":"), "/usr/bin", "/usr/local/bin", "/bin"]
    for d in dict.fromkeys(d for d in dirs if d):
        base = in_root(root, d)
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            name = entry.name
            if (
                name in COMPILERS
                or name.startswith(("gcc-", "g++-", "clang-"))
                or (name.endswith(("-gcc", "-cc")) or "-linux-gnu-gcc" in name)
            ):
                problems.append(f"compiler in the runtime image: {d}/{name}")
            if name == "pip" or (name.startswith("pip3") and not name.endswith(".py")):
                problems.append(f"pip in the runtime image: {d}/{name}")
    for pattern in (
        "usr/lib/python3*/*-packages/pip",
        "usr/local/lib/python3*/*-packages/pip",
        "opt/venv/lib/python3*/site-packages/pip",
    ):
        for found in root.glob(pattern):
            problems.append(f"pip in the runtime image: /{found.relative_to(root)}")
    for leftover in ("/root/.config/pip", BUILD_CA, "/etc/pip.conf"):
        if in_root(root, leftover).exists():
            problems.append(f"the build's pip configuration was left in the image: {leftover}")
    for problem in problems:
        print(f"image check: {problem}", file=sys.stderr)
    print(
        "image check: user {}, entrypoint {} cmd {}, labels {}".format(
            user,
            config.get("Entrypoint"),
            config.get("Cmd"),
            ", ".join(
                f"{k.removeprefix('org.opencontainers.image.')}={v}" for k, v in labels.items()
            ),
        )
    )
    return 1 if problems else 0


# --- exec --------------------------------------------------------------------------------------


def _ids(root: Path, user: str) -> tuple[int, int, str]:
    name, _, group = user.partition(":")
    home = "/"
    uid = gid = None
    passwd = in_root(root, "/etc/passwd")
    for line in passwd.read_text(encoding="utf-8").splitlines() if passwd.exists() else []:
        fields = line.split(":")
        if len(fields) >= 6 and (fields[0] == name or fields[2] == name):
            uid, gid, home = int(fields[2]), int(fields[3]), fields[5]
            break
    if uid is None:
        uid = int(name or 0)
        gid = uid
    if group:
        gid = int(group)
    assert gid is not None
    return uid, gid, home


def run_in_root(args: argparse.Namespace) -> int:
    config = docker_config(args.inspect)
    root: Path = args.root
    extra = list(args.args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    if args.healthcheck:
        test = (config.get("Healthcheck") or {}).get("Test") or []
        if not test or test[0] not in ("CMD", "CMD-SHELL"):
            print(f"exec: no runnable HEALTHCHECK in the image: {test}", file=sys.stderr)
            return 2
        argv = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
    else:
        argv = list(config.get("Entrypoint") or []) + (extra or list(config.get("Cmd") or []))
    env = env_of(config)
    uid, gid, home = _ids(root, config.get("User") or "0")
    env.setdefault("HOME", home)
    env.setdefault("HOSTNAME", "sloguard-ci")
    env.update(e.split("=", 1) for e in args.env)
    print(f"exec: uid {uid} gid {gid}: {shlex.join(argv)}", file=sys.stderr, flush=True)
    os.chroot(root)
    os.chdir(config.get("WorkingDir") or "/")
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    os.execvpe(argv[0], argv, env)
    return 127  # not reached


# --- snapshot / diff / probe -------------------------------------------------------------------


def snapshot(root: Path, out: Path) -> None:
    files: dict[str, list[int]] = {}
    for top, dirs, names in os.walk(root):
        rel_top = os.path.relpath(top, root)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel_top, d)) not in SKIP]
        for name in names + dirs:
            path = os.path.join(top, name)
            st = os.lstat(path)
            rel = "/" + os.path.normpath(os.path.join(rel_top, name))
            files[rel] = [st.st_mode, st.st_size, st.st_mtime_ns, st.st_uid, st.st_gid]
    out.write_text(json.dumps(files), encoding="utf-8")


def diff(before: Path, after: Path) -> int:
    a = json.loads(before.read_text(encoding="utf-8"))
    b = json.loads(after.read_text(encoding="utf-8"))
    changed = sorted(
        [f"added {p}" for p in b.keys() - a.keys()]
        + [f"removed {p}" for p in a.keys() - b.keys()]
        + [f"changed {p}" for p in a.keys() & b.keys() if a[p] != b[p]]
    )
    for line in changed[:40]:
        print(line)
    if len(changed) > 40:
        print(f"... and {len(changed) - 40} more")
    return 1 if changed else 0


def probe(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(4096).decode("utf-8", "replace")
            print(f"{url}: HTTP {response.status}: {body[:120].strip()!r}")
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"{url}: HTTP {exc.code}")
    except OSError as exc:
        print(f"{url}: {exc}")
    return 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="image_tool.py")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pipconf")
    p.add_argument("out", type=Path)
    p.add_argument("--pip", default="python3 -m pip")
    c = sub.add_parser("check")
    c.add_argument("--inspect", type=Path, required=True)
    c.add_argument("--rootfs", type=Path, required=True)
    c.add_argument("--version", required=True)
    c.add_argument("--revision", required=True)
    c.add_argument("--created", required=True)
    e = sub.add_parser("exec")
    e.add_argument("--inspect", type=Path, required=True)
    e.add_argument("--root", type=Path, required=True)
    e.add_argument("--env", action="append", default=[])
    e.add_argument("--healthcheck", action="store_true")
    e.add_argument("args", nargs=argparse.REMAINDER)
    s = sub.add_parser("snapshot")
    s.add_argument("root", type=Path)
    s.add_argument("out", type=Path)
    d = sub.add_parser("diff")
    d.add_argument("before", type=Path)
    d.add_argument("after", type=Path)
    g = sub.add_parser("probe")
    g.add_argument("url")
    g.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.command == "pipconf":
        pipconf(args.out, shlex.split(args.pip))
        return 0
    if args.command == "check":
        return check(args)
    if args.command == "exec":
        return run_in_root(args)
    if args.command == "snapshot":
        snapshot(args.root, args.out)
        return 0
    if args.command == "diff":
        return diff(args.before, args.after)
    return probe(args.url, args.timeout)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
