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
    assert s.memory_budget_mb == 1024.0  # the default
    budget = parse_settings(
        ["--data-dir", str(tmp_path), "--token", "t", "--memory-budget", "0"], env={}
    )
    assert budget.memory_budget_mb is None  # 0 = no budget
    env["HOMEIQ_SIDECAR_MEMORY_BUDGET"] = "800"
    assert parse_settings([], env=env).memory_budget_mb == 800.0


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


def test_models_flag_takes_role_source_pairs(tmp_path: Path) -> None:
    base = ["--data-dir", str(tmp_path), "--token", "t"]
    s = parse_settings(
        [*base, "--models", "embed=sentence-transformers/all-MiniLM-L6-v2", "rerank=/models/bge"],
        env={},
    )
    assert s.models == {"embed": "sentence-transformers/all-MiniLM-L6-v2", "rerank": "/models/bge"}
    # Repeating the flag adds pairs; only the first "=" splits (a path may hold more).
    s = parse_settings([*base, "--models", "embed=a", "--models", "classify=/m/x=1"], env={})
    assert s.models == {"embed": "a", "classify": "/m/x=1"}


def test_models_precedence(tmp_path: Path) -> None:
    """A role's model, first found wins: per-role flag, --models, per-role env, MODELS env."""
    env = {
        "HOMEIQ_SIDECAR_MODELS": "embed=env-all/e,rerank=env-all/r, classify=env-all/c",
        "HOMEIQ_SIDECAR_RERANK_MODEL": "env-role/r",
        "HOMEIQ_SIDECAR_CLASSIFY_MODEL": "env-role/c",
    }
    base = ["--data-dir", str(tmp_path), "--token", "t"]
    s = parse_settings(base, env=env)
    assert s.models == {"embed": "env-all/e", "rerank": "env-role/r", "classify": "env-role/c"}
    argv = [*base, "--models", "classify=flag-all/c", "rerank=flag-all/r",
            "--rerank-model", "flag-role/r"]  # fmt: skip
    s = parse_settings(argv, env=env)
    assert s.models == {"embed": "env-all/e", "rerank": "flag-role/r", "classify": "flag-all/c"}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["embed"], "expected ROLE=SOURCE, got 'embed'"),
        (["embed="], "expected ROLE=SOURCE"),
        (["=org/model"], "expected ROLE=SOURCE"),
        (["speech=org/model"], "unknown model role 'speech'"),
        (["embed=a", "embed=b"], "the embed model is given twice"),
        ([], "expected at least one argument"),
    ],
)
def test_models_flag_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pairs: list[str], message: str
) -> None:
    argv = ["--data-dir", str(tmp_path), "--token", "t", "--models", *pairs]
    with pytest.raises(SystemExit) as exc:
        parse_settings(argv, env={})
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --models" in err
    assert message in err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("embed=a,rerank", "expected ROLE=SOURCE, got 'rerank'"),
        ("embed=a,speech=b", "unknown model role 'speech'"),
        ("embed=a,embed=b", "the embed model is given twice"),
    ],
)
def test_models_env_errors(tmp_path: Path, value: str, message: str) -> None:
    env = {"HOMEIQ_SIDECAR_MODELS": value}
    with pytest.raises(SettingsError, match=f"HOMEIQ_SIDECAR_MODELS: {message}"):
        parse_settings(["--data-dir", str(tmp_path), "--token", "t"], env=env)


def test_models_env_ignores_empty_items(tmp_path: Path) -> None:
    env = {"HOMEIQ_SIDECAR_MODELS": "embed=a,,"}
    s = parse_settings(["--data-dir", str(tmp_path), "--token", "t"], env=env)
    assert s.models == {"embed": "a"}
