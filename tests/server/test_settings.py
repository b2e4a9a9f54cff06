"""Every setting has a flag and a HEARTH_* variable, both work, flags win, and the README lists them all."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest

from server.config import Settings, add_arguments, flag, from_env_and_args, variable

README = Path(__file__).resolve().parents[2] / "README.md"

# A valid value other than the default for every setting (a new setting must add one here).
SAMPLE: dict[str, Any] = {
    "host": "0.0.0.0",
    "port": 9001,
    "secret": "s" * 40,
    "operator_key": "k" * 30,
    "redis_url": "rediss://redis.clinic.example:6380/0",
    "redis_prefix": "clinic:",
    "redis_tls_ca": "/etc/hearth/redis-ca.pem",
    "redis_tls_cert": "/etc/hearth/redis-client.pem",
    "redis_tls_key": "/etc/hearth/redis-client.key",
    "public_url": "https://node1.clinic.example",
    "node_id": "node-1",
    "production": True,
    "demo": True,
    "allow_loopback": True,
    "ice_servers": [{"urls": "turn:turn.clinic.example:3478", "username": "u", "credential": "c"}],
    "allowed_origins": ["https://clinic.example", "https://node2.clinic.example"],
    "tls_cert": "/etc/hearth/cert.pem",
    "tls_key": "/etc/hearth/key.pem",
    "token_ttl": 600.0,
    "grace_seconds": 30.0,
    "max_sessions": 50,
    "max_participants": 10,
    "state_ttl": 7200.0,
    "ended_ttl": 600.0,
    "lease_ttl": 6.0,
    "ping_interval": 20.0,
    "ping_timeout": 10.0,
    "auth_timeout": 3.0,
    "max_unauthenticated_per_address": 5,
    "handshakes_per_second": 100.0,
    "stop_timeout": 4.0,
    "tick_seconds": 0.5,
    "event_rate": 10.0,
    "event_burst": 20.0,
    "media": False,
    "media_workers": 3,
    "debug_endpoints": True,
    "compiled_forwarding": False,
    "adapt_bandwidth": False,
    "log_json": False,
    "log_level": "debug",
}


def as_variables(values: dict[str, Any]) -> dict[str, str]:
    """Settings as an operator writes them into a unit file or a container's environment."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, list):
            return ",".join(value) if all(isinstance(v, str) for v in value) else json.dumps(value)
        return str(value)

    return {variable(name): text(value) for name, value in values.items()}


def as_flags(values: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for name, value in values.items():
        if isinstance(value, bool):
            args.append(flag(name))  # a switch: it can only turn its default around
        elif name == "allowed_origins":
            args += [part for origin in value for part in (flag(name), origin)]
        else:
            args.append(f"{flag(name)}={json.dumps(value) if isinstance(value, list) else value}")
    return args


def parse(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(args)


def other_than(value: Any) -> Any:
    """Another valid value of the same kind, for a variable that a flag must override."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, list):
        return value[:1]
    return value + "-from-env"


def test_every_setting_has_a_sample_other_than_its_default() -> None:
    assert set(SAMPLE) == set(Settings.model_fields)
    defaults = Settings()
    assert [name for name, value in SAMPLE.items() if getattr(defaults, name) == value] == []


def test_each_variable_sets_its_setting() -> None:
    settings = from_env_and_args(None, as_variables(SAMPLE))
    assert {name: getattr(settings, name) for name in SAMPLE} == SAMPLE


def test_each_flag_sets_its_setting_and_wins_over_its_variable() -> None:
    environment = as_variables({name: other_than(value) for name, value in SAMPLE.items()})
    settings = from_env_and_args(parse(as_flags(SAMPLE)), environment)
    assert {name: getattr(settings, name) for name in SAMPLE} == SAMPLE


def test_an_unset_flag_leaves_the_variable_in_force() -> None:
    settings = from_env_and_args(parse([]), as_variables(SAMPLE))
    assert {name: getattr(settings, name) for name in SAMPLE} == SAMPLE


def test_every_flag_is_a_setting_and_names_its_variable_in_its_help() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    actions = [action for action in parser._actions if action.dest != "help"]
    assert sorted(action.dest for action in actions) == sorted(Settings.model_fields)
    for action in actions:
        assert action.option_strings == [flag(action.dest)]
        assert action.help is not None and variable(action.dest) in action.help


def test_the_readme_lists_every_flag_with_its_variable() -> None:
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `--")]
    for name in Settings.model_fields:
        listed = [row for row in rows if f"`{flag(name)}`" in row and f"`{variable(name)}" in row]
        assert listed, f"README.md lists no row with `{flag(name)}` and `{variable(name)}`"


def test_settings_made_in_code_read_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process test servers build ``Settings(...)`` directly; an operator's variables must not leak in."""
    monkeypatch.setenv("HEARTH_PORT", "9999")
    monkeypatch.setenv("HEARTH_MEDIA", "0")
    assert (Settings().port, Settings().media) == (8080, True)


def test_empty_variables_count_as_unset() -> None:
    settings = from_env_and_args(None, {"HEARTH_PORT": "", "HEARTH_ALLOWED_ORIGINS": "", "HEARTH_ICE_SERVERS": ""})
    assert (settings.port, settings.allowed_origins, settings.ice_servers) == (8080, [], [])


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"HEARTH_PORT": "80a"}, "--port / HEARTH_PORT"),
        ({"HEARTH_MEDIA": "perhaps"}, "--no-media / HEARTH_MEDIA"),
        ({"HEARTH_ICE_SERVERS": "[{"}, "--ice-servers / HEARTH_ICE_SERVERS"),
        ({"HEARTH_LEASE_TTL": "0"}, "--lease-ttl / HEARTH_LEASE_TTL"),
    ],
)
def test_a_bad_value_stops_the_start_naming_its_flag_and_variable(environment: dict[str, str], named: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(named)):
        from_env_and_args(None, environment)


def test_redis_tls_files_need_a_rediss_url() -> None:
    with pytest.raises(SystemExit, match="rediss://"):
        from_env_and_args(None, {"HEARTH_REDIS_URL": "redis://127.0.0.1:6379/0", "HEARTH_REDIS_TLS_CA": "/ca.pem"})
    tls = from_env_and_args(None, {"HEARTH_REDIS_URL": "rediss://r:6380/0", "HEARTH_REDIS_TLS_CA": "/ca.pem"}).redis_tls
    assert tls is not None and tls.options() == {"ssl_ca_certs": "/ca.pem"}


def test_development_generates_a_secret_and_an_operator_key_production_refuses_short_ones() -> None:
    settings = from_env_and_args(None, {})
    assert settings.generated == ["secret", "operator_key"] and len(settings.secret) >= 32
    production = {"HEARTH_PRODUCTION": "1", "HEARTH_SECRET": "s" * 40}
    with pytest.raises(SystemExit, match="--operator-key must be at least 24 bytes"):
        from_env_and_args(None, {**production, "HEARTH_OPERATOR_KEY": "short"})
    assert from_env_and_args(None, {**production, "HEARTH_OPERATOR_KEY": "k" * 24}).generated == []
