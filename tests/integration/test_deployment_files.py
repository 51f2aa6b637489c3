"""docker-compose.yml and the Dockerfile stay in step with the code they deploy."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from credit_ledger.bootstrap import store_env

ROOT = Path(__file__).resolve().parents[2]


def test_compose_runs_the_service_against_its_postgres_with_health_checks() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    ledger, db = compose["services"]["ledger"], compose["services"]["db"]
    env = store_env(ledger["environment"]["CREDIT_LEDGER_DATABASE_URL"])
    assert env["POSTGRES_HOST"] == "db"
    assert env["POSTGRES_DBNAME"] == db["environment"]["POSTGRES_DB"]
    assert env["POSTGRES_USER"] == db["environment"]["POSTGRES_USER"]
    assert ledger["depends_on"]["db"]["condition"] == "service_healthy"
    assert "healthz" in " ".join(ledger["healthcheck"]["test"])
    assert ledger["build"] == "."
    projector = compose["services"]["projector"]
    assert projector["command"] == ["credit-ledger", "project"]
    assert (
        projector["environment"]["CREDIT_LEDGER_DATABASE_URL"]
        == (ledger["environment"]["CREDIT_LEDGER_DATABASE_URL"])
    )
    assert ledger["environment"]["CREDIT_LEDGER_PROJECTOR"] == "off"


def test_the_image_copies_every_package_the_distribution_ships() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package
