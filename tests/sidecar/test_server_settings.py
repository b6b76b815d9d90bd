"""Flags, environment variables and their checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeiq_sidecar.settings import SettingsError, is_loopback, parse_settings


def test_defaults_bind_loopback(tmp_path: Path) -> None:
    s = parse_settings(["--data-dir", str(tmp_path), "--token", "t"], env={})
    assert s.host == "127.0.0.1"
    assert s.port == 8018
    assert s.token == "t"
    assert s.precision == "int8"
    assert s.models == {}
    assert s.text_cache_path.is_relative_to(tmp_path)
    assert s.model_cache_dir.is_relative_to(tmp_path)


def test_environment_and_flag_precedence(tmp_path: Path) -> None:
    env = {
        "HOMEIQ_SIDECAR_DATA_DIR": str(tmp_path),
        "HOMEIQ_SIDECAR_TOKEN": "from-env",
        "HOMEIQ_SIDECAR_PORT": "9000",
        "HOMEIQ_SIDECAR_EMBED_MODEL": "org/embedder",
        "HOMEIQ_SIDECAR_MAX_QUEUE": "3",
        "HOMEIQ_SIDECAR_IDLE_UNLOAD": "0",
    }
    s = parse_settings(["--port", "0", "--rerank-model", "org/reranker"], env=env)
    assert s.port == 0  # the flag wins over the environment
    assert s.token == "from-env"
    assert s.models == {"embed": "org/embedder", "rerank": "org/reranker"}
    assert s.max_queue == 3
    assert s.idle_unload_s is None  # 0 = never unload


def test_token_file_is_read_and_stripped(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("secret-from-file\n")
    s = parse_settings(["--data-dir", str(tmp_path), "--token-file", str(token_file)], env={})
    assert s.token == "secret-from-file"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--token", "t"], "data-dir"),
        (["--data-dir", "d"], "token is required"),
        (["--data-dir", "d", "--no-auth", "--host", "0.0.0.0"], "loopback"),
        (["--data-dir", "d", "--token", "t", "--port", "70000"], "out of range"),
        (["--data-dir", "d", "--token-file", "/nonexistent/token"], "token file"),
    ],
)
def test_refused_settings(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_settings(argv, env={})


def test_no_auth_on_loopback(tmp_path: Path) -> None:
    s = parse_settings(["--data-dir", str(tmp_path), "--no-auth", "--token", "x"], env={})
    assert s.no_auth
    assert s.token is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.2", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected
