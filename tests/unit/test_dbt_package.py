"""The dbt package's conventions (transform/): every var is documented, unit-test names fit
Postgres's relation names, and nothing comes from a hub."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TRANSFORM = ROOT / "transform"


def test_every_var_is_documented() -> None:
    project = yaml.safe_load((TRANSFORM / "dbt_project.yml").read_text())
    doc = (ROOT / "docs" / "analytics.md").read_text()
    names = sorted(project["vars"])
    assert "heymarket_opt_out_statuses" in names
    missing = [name for name in names if f"`{name}`" not in doc]
    assert not missing, f"vars of transform/dbt_project.yml not in docs/analytics.md: {missing}"


def test_unit_test_names_fit_postgres() -> None:
    """dbt makes a relation per unit test, named after it: Postgres cuts names at 63."""
    names = [
        test["name"]
        for path in sorted((TRANSFORM / "models").rglob("*.yml"))
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])
    ]
    assert len(names) >= 4
    assert len(set(names)) == len(names)
    long = [name for name in names if len(name) > 55]
    assert not long, long


def test_no_package_from_a_hub() -> None:
    packages = yaml.safe_load((TRANSFORM / "packages.yml").read_text()) or {}
    assert not packages.get("packages"), packages
