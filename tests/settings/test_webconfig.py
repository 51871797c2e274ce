"""The web configuration file (Prometheus's ``--web.config.file`` format) and the ``web`` settings.

Every problem of a file is reported at once, with file, line and field; a password hash is never
shown. Certificates are made by ``openssl`` (issue 13, defect 6b).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import bcrypt
import pytest

from sloguard.cli import main
from sloguard.errors import ConfigError
from sloguard.settings.model import load_settings
from sloguard.settings.webconfig import load_web_config

HASH = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_web_config(path)
    return [str(p) for p in info.value.problems]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    root = tmp_path_factory.mktemp("pki")
    for name in ("server", "other"):
        subprocess.run(
            [
                openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-keyout", str(root / f"{name}.key"),
                "-out", str(root / f"{name}.crt"),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
    return root


def test_a_valid_file_with_paths_relative_to_it(pki: Path) -> None:
    conf = write(
        pki / "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  alice: {HASH}\n",
    )
    web = load_web_config(conf)
    assert web.tls is not None
    assert (web.tls.cert_file, web.tls.key_file) == (pki / "server.crt", pki / "server.key")
    assert dict(web.users) == {"alice": HASH}


def test_an_empty_file_means_no_tls_and_no_users(tmp_path: Path) -> None:
    web = load_web_config(write(tmp_path / "web.yml", "# nothing yet\n"))
    assert web.tls is None and not web.users


def test_every_problem_is_listed_with_line_and_field_and_hashes_stay_hidden(
    tmp_path: Path,
) -> None:
    conf = write(
        tmp_path / "web.yml",
        "tls_server_config:\n"  # 1
        "  cert_file: missing.crt\n"  # 2
        "  client_ca_file: ca.crt\n"  # 3
        "basic_auth_users:\n"  # 4
        "  alice: plaintext-password\n"  # 5
        f"  bob: {HASH}\n"  # 6
        "basic_auth_user:\n"  # 7
        "  carol: x\n"  # 8
        "http_server_config: {}\n",  # 9
    )
    found = problems(conf)
    where = f"{conf}:"
    assert found == [
        f"{where}1: tls_server_config.key_file: required field is missing",
        f"{where}3: tls_server_config.client_ca_file: is a key of Prometheus's web config that"
        " sloguard does not serve",
        f"{where}5: basic_auth_users.alice: must be a bcrypt hash ($2y$…), e.g. from htpasswd"
        " -nbBC 10 \"\" 'password' (value hidden)",
        f"{where}7: basic_auth_user: unknown key 'basic_auth_user', did you mean"
        " 'basic_auth_users'?",
        f"{where}9: http_server_config: is a key of Prometheus's web config that sloguard does"
        " not serve",
    ]
    assert "plaintext-password" not in "\n".join(found)


def test_missing_and_mismatched_certificate_files(pki: Path) -> None:
    missing = write(
        pki / "missing.yml", "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n"
    )
    assert problems(missing) == [
        f"{missing}:2: tls_server_config.cert_file: no such file: {pki / 'nope.crt'}",
        f"{missing}:3: tls_server_config.key_file: no such file: {pki / 'nope.key'}",
    ]
    mismatched = write(
        pki / "mismatched.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n",
    )
    (found,) = problems(mismatched)
    assert found.startswith(f"{mismatched}:3: tls_server_config.key_file: cannot be used with")


def test_not_a_mapping(tmp_path: Path) -> None:
    conf = write(tmp_path / "web.yml", "- alice\n")
    assert problems(conf) == [f"{conf}: expected a mapping (got ['alice'])"]


def test_web_settings_from_env_and_the_read_token_never_from_a_file(tmp_path: Path) -> None:
    conf = write(tmp_path / "web.yml", "")
    s = load_settings(
        None,
        {"SLOGUARD_WEB__CONFIG_FILE": str(conf), "SLOGUARD_WEB__READ_TOKEN": "r" * 20},
    )
    assert s.web.config_file == conf and s.web.read_token is not None
    assert s.web.docs is False  # the API docs page is off by default
    settings_file = write(tmp_path / "sloguard.yaml", "web:\n  read_token: in-a-file\n")
    with pytest.raises(ConfigError, match="set SLOGUARD_WEB__READ_TOKEN instead"):
        load_settings(str(settings_file), {})


def test_run_takes_prometheus_style_web_config_file_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yml"
    assert main(["run", "--web.config.file", str(missing)]) != 0
    err = capsys.readouterr().err
    assert err.startswith("command line: web.config_file: ")
