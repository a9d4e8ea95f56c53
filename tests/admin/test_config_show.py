"""`shardcron config show` never prints a secret, including the database password."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_cli


def test_config_show_masks_secrets_and_the_database_password(tmp_path: Path) -> None:
    env = {
        "SHARDCRON_DATABASE_URL": "mysql+pymysql://shardcron:db-pass-4711@db.example:3306/shardcron",
        "SHARDCRON_ACCESS_TOKEN": "access-token-0123456789",
        "SHARDCRON_METRICS_TOKEN": "metrics-token-0123456789",
    }
    result = run_cli("config", "show", home=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    for secret in ("db-pass-4711", "access-token-0123456789", "metrics-token-0123456789"):
        assert secret not in result.stdout
    assert "mysql+pymysql://shardcron:***@db.example:3306/shardcron" in result.stdout
