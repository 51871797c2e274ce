"""The Dockerfile and .dockerignore, without a Docker engine (none runs here).

The Dockerfile is parsed with dockerfile-parse and held to the image's contract: a builder and a
slim runtime stage, a numeric non-root user, exec-form ENTRYPOINT/CMD, a HEALTHCHECK, OCI labels,
no byte-code writes, no remote ADD, no secret in ENV. Each rule is shown to catch a Dockerfile
broken in exactly that way. What can run without an engine runs for real: the builder's wheel
build on the context .dockerignore lets through, and the HEALTHCHECK command against a daemon.
The image itself is never built in these tests.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped, unused-ignore]

from tests.support import processes

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|CREDENTIAL", re.I)
REQUIRED_LABELS = (
    "org.opencontainers.image.title",
    "org.opencontainers.image.version",
    "org.opencontainers.image.licenses",
)


@dataclass(frozen=True)
class Instruction:
    stage: int
    name: str
    value: str


def parse(text: str) -> tuple[DockerfileParser, list[Instruction]]:
    """Parse ``text``; return the parser and its instructions, each with its stage number."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    out: list[Instruction] = []
    stage = -1
    for item in parser.structure:
        name = str(item["instruction"]).upper()
        if name == "FROM":
            stage += 1
        if name != "COMMENT":
            out.append(Instruction(stage, name, str(item["value"])))
    return parser, out


def _exec_form(value: str) -> list[str] | None:
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    if isinstance(parsed, list) and parsed and all(isinstance(p, str) for p in parsed):
        return [str(p) for p in parsed]
    return None


def _env_pairs(value: str) -> list[tuple[str, str]]:
    """``ENV a=1 b=2`` and the legacy ``ENV a 1`` as (key, value) pairs."""
    words = shlex.split(value)
    if words and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    pairs = [w.split("=", 1) for w in words if "=" in w]
    return [(key, val) for key, val in pairs]


def problems(text: str) -> list[str]:
    """Every way ``text`` breaks the image contract (empty when it keeps it)."""
    parser, instructions = parse(text)
    out: list[str] = []
    stages = 1 + max((i.stage for i in instructions), default=-1)
    if stages < 2:
        out.append(f"multi-stage: {stages} stage(s), want a builder and a runtime stage")
    bases: list[str] = list(parser.parent_images)
    final_base = bases[-1] if bases else ""
    if "-slim" not in final_base:
        out.append(f"slim base: the final stage is FROM {final_base!r}, want a -slim image")
    final = [i for i in instructions if i.stage == stages - 1]

    users = [i.value.strip() for i in final if i.name == "USER"]
    if not users:
        out.append("user: the final stage sets no USER (it would run as root)")
    elif not re.fullmatch(r"\d+(:\d+)?", users[-1]):
        out.append(f"user: USER {users[-1]!r} is not numeric uid[:gid]")
    elif users[-1].split(":")[0] == "0":
        out.append("user: USER 0 is root")

    for name in ("ENTRYPOINT", "CMD"):
        found = [i.value for i in final if i.name == name]
        if not found:
            out.append(f"exec form: no {name} in the final stage")
        elif _exec_form(found[-1]) is None:
            out.append(f"exec form: {name} {found[-1]} is shell form")

    checks = [i.value for i in final if i.name == "HEALTHCHECK"]
    if not checks or checks[-1].strip().upper() == "NONE":
        out.append("healthcheck: the final stage has no HEALTHCHECK")
    else:
        command = checks[-1].split("CMD", 1)[-1].strip()
        argv = _exec_form(command)
        if argv is None or "/healthz" not in " ".join(argv):
            out.append(f"healthcheck: want an exec-form CMD probing /healthz, got {command!r}")

    for i in instructions:
        if i.name == "ADD" and re.search(r"\b(https?|ftp)://", i.value):
            out.append(f"remote ADD: ADD {i.value}")
        if i.name in ("ENV", "ARG"):
            pairs = _env_pairs(i.value) if i.name == "ENV" else [(i.value.split("=")[0], "")]
            out.extend(
                f"secret in {i.name}: {key}"
                for key, value in pairs
                if SECRET_NAME.search(key) and (value or i.name == "ARG")
            )

    envs = dict(parser.envs)
    if envs.get("PYTHONDONTWRITEBYTECODE") != "1":
        out.append("read-only root: the final stage lacks ENV PYTHONDONTWRITEBYTECODE=1")
    labels = dict(parser.labels)
    missing = [label for label in REQUIRED_LABELS if not labels.get(label)]
    if missing:
        out.append(f"labels: missing {', '.join(missing)}")
    if not any(i.name == "EXPOSE" and "9464" in i.value.split() for i in final):
        out.append("expose: the final stage does not EXPOSE 9464")
    return out


def test_the_dockerfile_keeps_the_image_contract() -> None:
    assert problems(DOCKERFILE.read_text(encoding="utf-8")) == []


def test_the_runtime_runs_sloguard_as_the_unprivileged_user_on_its_data_dir() -> None:
    parser, instructions = parse(DOCKERFILE.read_text(encoding="utf-8"))
    final = [i for i in instructions if i.stage == max(x.stage for x in instructions)]
    values = {i.name: i.value for i in final}
    assert values["USER"] == "10001:10001"
    assert _exec_form(values["ENTRYPOINT"]) == ["sloguard"]
    assert _exec_form(values["CMD"]) == [
        "run",
        "--host",
        "0.0.0.0",
        "--data-dir",
        "/var/lib/sloguard",
    ]
    assert _exec_form(values["VOLUME"]) == ["/var/lib/sloguard"]
    assert values["WORKDIR"] == "/var/lib/sloguard"
    assert "--from=builder /opt/venv /opt/venv" in values["COPY"]
    assert parser.envs["PIP_NO_CACHE_DIR"] == "1"


Edit = Callable[[str], str]


def _replace(old: str, new: str) -> Edit:
    def edit(text: str) -> str:
        assert old in text, f"the Dockerfile no longer contains {old!r}"
        return text.replace(old, new)

    return edit


def _drop_builder(text: str) -> str:
    start = text.index("FROM ${PYTHON_IMAGE} AS builder")
    end = text.index("FROM ${PYTHON_IMAGE} AS runtime")
    return text[:start] + text[end:].replace("COPY --from=builder /opt/venv", "COPY sloguard")


def _drop_line(prefix: str) -> Edit:
    def edit(text: str) -> str:
        lines = text.splitlines(keepends=True)
        start = next(n for n, line in enumerate(lines) if line.startswith(prefix))
        end = start + 1
        while lines[end - 1].rstrip().endswith("\\"):
            end += 1
        return "".join(lines[:start] + lines[end:])

    return edit


def _append_to_runtime(line: str) -> Edit:
    return _replace("USER 10001:10001\n", f"{line}\nUSER 10001:10001\n")


BROKEN: dict[str, tuple[Edit, str]] = {
    "single stage": (_drop_builder, "multi-stage: 1 stage(s)"),
    "full base image": (_replace("python:3.11-slim-bookworm", "python:3.11-bookworm"), "slim base"),
    "no USER": (_drop_line("USER "), "user: the final stage sets no USER"),
    "named USER": (_replace("USER 10001:10001", "USER sloguard"), "is not numeric"),
    "root USER": (_replace("USER 10001:10001", "USER 0:0"), "USER 0 is root"),
    "USER only in the builder": (
        lambda t: _drop_line("USER ")(t).replace("WORKDIR /src", "USER 10001\nWORKDIR /src"),
        "user: the final stage sets no USER",
    ),
    "shell ENTRYPOINT": (
        _replace('ENTRYPOINT ["sloguard"]', "ENTRYPOINT sloguard"),
        "ENTRYPOINT sloguard is shell",
    ),
    "shell CMD": (
        _replace(
            'CMD ["run", "--host", "0.0.0.0", "--data-dir", "/var/lib/sloguard"]',
            "CMD run --host 0.0.0.0",
        ),
        "CMD run --host 0.0.0.0 is shell form",
    ),
    "no CMD": (_drop_line("CMD ["), "exec form: no CMD"),
    "no HEALTHCHECK": (_drop_line("HEALTHCHECK"), "healthcheck: the final stage has no"),
    "HEALTHCHECK NONE last": (
        _replace('ENTRYPOINT ["sloguard"]', 'HEALTHCHECK NONE\nENTRYPOINT ["sloguard"]'),
        "has no HEALTHCHECK",
    ),
    "shell HEALTHCHECK": (
        lambda t: _drop_line("HEALTHCHECK")(t).replace(
            "ENTRYPOINT", "HEALTHCHECK CMD curl -f http://localhost:9464/healthz\nENTRYPOINT"
        ),
        "want an exec-form CMD probing /healthz",
    ),
    "remote ADD": (_append_to_runtime("ADD https://example.com/tool.tar.gz /opt/"), "remote ADD"),
    "token in ENV": (
        _append_to_runtime("ENV SLOGUARD_INGEST__TOKEN=s3cr3t"),
        "secret in ENV: SLOGUARD_INGEST__TOKEN",
    ),
    "legacy ENV with a token": (
        _append_to_runtime("ENV SLOGUARD_SLACK_TOKEN xoxb-123"),
        "secret in ENV: SLOGUARD_SLACK_TOKEN",
    ),
    "password in the builder's ENV": (
        _replace(
            "PIP_NO_CACHE_DIR=1 \\\n    PIP_DISABLE", "PIP_PASSWORD=hunter2 \\\n    PIP_DISABLE"
        ),
        "secret in ENV: PIP_PASSWORD",
    ),
    "secret build ARG": (_append_to_runtime("ARG API_KEY"), "secret in ARG: API_KEY"),
    "byte code written at run time": (
        _replace("    PYTHONDONTWRITEBYTECODE=1 \\\n    PYTHONUNBUFFERED", "    PYTHONUNBUFFERED"),
        "PYTHONDONTWRITEBYTECODE",
    ),
    "no OCI labels": (_drop_line("LABEL "), "labels: missing org.opencontainers.image.title"),
    "port not exposed": (_drop_line("EXPOSE"), "expose"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_rule_catches_a_broken_dockerfile(case: str) -> None:
    edit, expected = BROKEN[case]
    found = problems(edit(DOCKERFILE.read_text(encoding="utf-8")))
    assert any(expected in p for p in found), found


def test_an_empty_value_is_no_secret() -> None:
    text = _append_to_runtime('ENV SLOGUARD_INGEST__TOKEN=""')(DOCKERFILE.read_text("utf-8"))
    assert problems(text) == []


# --- .dockerignore and the build context -----------------------------------------------------


def _ignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    out = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        for part in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
            regex += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                part, re.escape(part)
            )
        out.append((keep, re.compile(regex)))
    return out


def ignored(path: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for keep, regex in patterns:
        if any(regex.fullmatch(p) for p in prefixes):
            verdict = not keep
    return verdict


def build_context(dest: Path) -> list[str]:
    """Copy what .dockerignore lets into the build context to ``dest``; return the paths."""
    patterns = _ignore_patterns()
    kept = []
    for path in sorted(REPO.rglob("*")):
        rel = path.relative_to(REPO).as_posix()
        if path.is_file() and not ignored(rel, patterns) and not rel.startswith(".venv/"):
            kept.append(rel)
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / rel)
    return kept


def test_dockerignore_sends_the_build_inputs_and_nothing_else() -> None:
    patterns = _ignore_patterns()
    for needed in (
        "pyproject.toml",
        "README.md",
        "sloguard/cli.py",
        "sloguard/data/demo-slos.yaml",
    ):
        assert not ignored(needed, patterns), needed
    for left_out in (
        ".git/HEAD",
        ".venv/bin/python",
        "tests/slo/test_budget.py",
        "bench/run.py",
        "data/x.sqlite",
        "helm/sloguard/values.yaml",
        ".cache/helm/v3/helm",
        "sloguard/__pycache__/cli.cpython-311.pyc",
        "sloguard/x.sqlite-wal",
        "Dockerfile",
        ".ci/run",
    ):
        assert ignored(left_out, patterns), left_out


def test_the_builder_copies_only_what_the_context_has() -> None:
    _, instructions = parse(DOCKERFILE.read_text(encoding="utf-8"))
    patterns = _ignore_patterns()
    copies = [i.value.split() for i in instructions if i.name == "COPY"]
    sources = [s for words in copies if not words[0].startswith("--from") for s in words[:-1]]
    assert sources == ["pyproject.toml", "README.md", "sloguard"]
    for source in sources:
        assert (REPO / source).exists() and not ignored(source, patterns), source


def test_the_wheel_builds_from_the_build_context(tmp_path: Path) -> None:
    """The builder's ``pip wheel --no-deps .``, run on exactly the files Docker would send."""
    context = tmp_path / "context"
    kept = build_context(context)
    assert "pyproject.toml" in kept and not any(k.startswith("tests/") for k in kept)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-cache-dir",
            "-q",
            "--wheel-dir",
            str(tmp_path / "wheels"),
            str(context),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("sloguard-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "sloguard = sloguard.cli:main" in z.read(entry_points).decode()
    assert {"sloguard/cli.py", "sloguard/py.typed", "sloguard/data/demo-slos.yaml"} <= names


# --- the HEALTHCHECK command against a real daemon -------------------------------------------


def _healthcheck_argv() -> list[str]:
    _, instructions = parse(DOCKERFILE.read_text(encoding="utf-8"))
    (check,) = [i.value for i in instructions if i.name == "HEALTHCHECK"]
    argv = _exec_form(check.split("CMD", 1)[1].strip())
    assert argv is not None and argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_the_healthcheck_passes_on_a_serving_daemon_and_fails_without_one(
    spawn: processes.Spawn, tmp_path: Path
) -> None:
    port = processes.free_port()
    proc = spawn(
        "run",
        "--host",
        "127.0.0.1",
        "--data-dir",
        str(tmp_path / "data"),
        env={"SLOGUARD_PORT": str(port)},
    )
    processes._wait_healthy(proc, f"http://127.0.0.1:{port}", tmp_path)
    env = {"SLOGUARD_PORT": str(port), "PATH": "/usr/bin:/bin"}
    healthy = subprocess.run(
        _healthcheck_argv(), env=env, capture_output=True, timeout=10, check=False
    )
    assert healthy.returncode == 0, healthy.stderr

    proc.terminate()
    proc.wait(timeout=processes.STOP_DEADLINE)
    down = subprocess.run(
        _healthcheck_argv(), env=env, capture_output=True, timeout=10, check=False
    )
    assert down.returncode != 0
