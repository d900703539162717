"""The container's files, checked without a Docker daemon (CI has none; ``scripts/docker-smoke.sh`` runs them for
real): the run scripts parse, mount every volume the image declares, keep the lock and nonce floor, the history
and the results outside the container, publish the status on the host's 127.0.0.1 only, resolve or refuse the
credentials path, and the image's health check asks the session. The scripts run for real, with a stand-in
``docker`` on the PATH that records the command it was given."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from kraken_global.config import load_config

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
DOCKERFILE = (ROOT / "Dockerfile").read_text()
CONTAINER_CONFIG = ROOT / "kraken_global" / "configs" / "container.yaml"


def declared_volumes() -> set[str]:
    volume = re.search(r"^VOLUME \[(.*?)\]", DOCKERFILE, re.M | re.S).group(1)
    return set(re.findall(r'"(/data/[a-z]+)"', volume))


@pytest.fixture
def docker(tmp_path):
    """A ``docker`` that writes its arguments (one per line) to ``docker.args`` and exits 0."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$DOCKER_ARGS"\n')
    fake.chmod(0o755)
    return bin_dir


def run_script(name: str, tmp_path: Path, docker: Path, **env: str) -> tuple[subprocess.CompletedProcess, list]:
    record = tmp_path / "docker.args"
    record.unlink(missing_ok=True)
    environment = {"PATH": f"{docker}:/usr/bin:/bin", "HOME": str(tmp_path), "DOCKER_ARGS": str(record), **env}
    done = subprocess.run(["bash", str(SCRIPTS / name), "--pairs", "BTC/USD"], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=30)
    return done, record.read_text().splitlines() if record.exists() else []


def option_values(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == option]


def test_every_script_parses_and_the_image_checks_its_session_health():
    for script in SCRIPTS.glob("*.sh"):
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{script.name}: {done.stderr}"
    healthcheck = re.search(r"^HEALTHCHECK (.*?)CMD (\[.*\])$", DOCKERFILE, re.M | re.S)
    assert healthcheck, "the Dockerfile has no HEALTHCHECK"
    assert "--start-period" in healthcheck.group(1)
    assert '"status", "--check", "--results", "/data/results"' in healthcheck.group(2)


def test_everything_the_container_config_writes_or_reads_is_a_declared_volume():
    config = load_config(CONTAINER_CONFIG)
    paths = {"data.directory": config.data.directory, "data.recorded": config.data.recorded,
             "ml.artifacts": config.ml.artifacts, "live.record_candles": config.live.record_candles,
             "live.state": config.live.state.parent, "live.logs": config.live.logs, "live.results": config.live.results,
             "live.key_lock_dir": config.live.key_lock_dir, "run.out": config.run.out}
    volumes = declared_volumes()
    for key, path in paths.items():
        assert path is not None and str(path) in volumes, f"{key} ({path}) is not a VOLUME: lost with --rm"
    assert "/data/keys" in volumes and "KRAKEN_GLOBAL_KEY_DIR=/data/keys" in DOCKERFILE


def test_run_paper_mounts_every_volume_runs_as_the_user_read_only_and_publishes_status_on_loopback(tmp_path, docker):
    done, args = run_script("run-paper.sh", tmp_path, docker, KG_HOME="kg")  # relative: made absolute
    assert done.returncode == 0, done.stderr
    home = tmp_path / "kg"
    mounts = option_values(args, "--mount")
    assert {re.search(r"dst=(/data/\w+)", m).group(1) for m in mounts} == declared_volumes()
    for mount in mounts:
        source = Path(re.search(r"src=([^,]+)", mount).group(1))
        assert source.is_absolute() and source.is_dir() and source.parent == home
        assert oct(source.stat().st_mode & 0o777) == "0o700"
    assert any("dst=/data/history,readonly" in m for m in mounts)
    assert option_values(args, "--user") == [f"{os.getuid()}:{os.getgid()}"]
    assert {"--rm", "--init", "--read-only"} <= set(args) and option_values(args, "--tmpfs") == ["/tmp"]
    assert option_values(args, "--publish") == ["127.0.0.1:8790:8790"]
    session = args[args.index("kraken-global"):]
    assert session[:4] == ["kraken-global", "paper", "--config", "/app/kraken_global/configs/container.yaml"]
    assert option_values(session, "--status-port") == ["8790"]
    assert option_values(session, "--status-host") == ["0.0.0.0"]
    assert session[-2:] == ["--pairs", "BTC/USD"]


def test_on_the_hosts_network_the_status_stays_on_loopback_and_nothing_is_published(tmp_path, docker):
    done, args = run_script("run-paper.sh", tmp_path, docker, KG_NETWORK="host", KG_STATUS_PORT="9001")
    assert done.returncode == 0, done.stderr
    assert option_values(args, "--network") == ["host"] and "--publish" not in args
    assert option_values(args, "--status-port") == ["9001"] and "--status-host" not in args
    done, args = run_script("run-paper.sh", tmp_path, docker, KG_STATUS_PORT="off")
    assert "--publish" not in args and "--status-port" not in args


def test_the_dashboard_is_published_on_loopback_with_its_token_passed_by_name(tmp_path, docker):
    token = "t" * 24
    done, args = run_script("run-paper.sh", tmp_path, docker, KG_DASHBOARD_PORT="8800", KG_DASHBOARD_TOKEN=token)
    assert done.returncode == 0, done.stderr
    assert option_values(args, "--publish") == ["127.0.0.1:8790:8790", "127.0.0.1:8800:8800"]
    session = args[args.index("kraken-global"):]
    assert option_values(session, "--dashboard") == ["8800"]
    assert option_values(session, "--dashboard-host") == ["0.0.0.0"]
    assert "KG_DASHBOARD_TOKEN" in option_values(args, "--env") and not any(token in a for a in args)
    done, args = run_script("run-paper.sh", tmp_path, docker, KG_DASHBOARD_PORT="8800", KG_NETWORK="host")
    assert done.returncode == 0 and "--publish" not in args and "--dashboard-host" not in args
    assert option_values(args, "--dashboard") == ["8800"]


def test_run_live_mounts_a_relative_credentials_file_by_its_absolute_path(tmp_path, docker):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "kraken.json").write_text("{}")
    done, args = run_script("run-live.sh", tmp_path, docker, KG_CREDENTIALS="keys/kraken.json")
    assert done.returncode == 0, done.stderr
    assert f"type=bind,src={tmp_path}/keys/kraken.json,dst=/run/secrets/kraken.json,readonly" in args
    session = args[args.index("kraken-global"):]
    assert option_values(session, "--credentials") == ["/run/secrets/kraken.json"]
    assert option_values(args, "--publish") == ["127.0.0.1:8791:8791"]
    done, args = run_script("run-live.sh", tmp_path, docker, KRAKEN_API_KEY="k", KRAKEN_API_SECRET="s")
    assert done.returncode == 0 and option_values(args, "--env") == ["KRAKEN_API_KEY", "KRAKEN_API_SECRET"]
    assert "k" not in args and "s" not in args, "a credential's value on docker's command line"


@pytest.mark.parametrize("script, env, message", [
    ("run-live.sh", {"KG_CREDENTIALS": "gone.json"}, "KG_CREDENTIALS=gone.json: no such file ({tmp}/gone.json)"),
    ("run-live.sh", {}, "set KRAKEN_API_KEY and KRAKEN_API_SECRET, or KG_CREDENTIALS"),
    ("run-paper.sh", {"KG_STATUS_PORT": "80"}, "KG_STATUS_PORT=80 is not a port from 1024 to 65535 (or off)"),
    ("run-paper.sh", {"KG_HISTORY": "nowhere"}, "KG_HISTORY=nowhere is not a folder"),
    ("run-paper.sh", {"KG_DASHBOARD_PORT": "99999999999999999999"}, "KG_DASHBOARD_PORT=99999999999999999999 is not"),
    ("run-paper.sh", {"KG_DASHBOARD_PORT": "8800"}, "the dashboard listens on the container's interface, which a "
                                                    "session allows only with a control token: set KG_DASHBOARD_TOKEN"),
])
def test_bad_settings_are_refused_in_one_line_before_docker_runs(tmp_path, docker, script, env, message):
    done, args = run_script(script, tmp_path, docker, **env)
    assert done.returncode == 2 and args == [], "docker ran"
    assert done.stderr.splitlines()[0].startswith(f"{script}: {message.format(tmp=tmp_path)}")
    assert len(done.stderr.splitlines()) == 1, done.stderr
