"""Files generated from the tap itself: `catalog/catalog.json` and the README settings table.

`make catalog` and `make settings-table` write them; tests/tap/test_catalog.py and
tests/tap/test_docs.py fail while they differ from what the tap reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "catalog" / "catalog.json"
TAP = [sys.executable, "-m", "tap_heymarket"]
#: The SDK's standard settings are summarised in one README line, not listed.
SDK_SETTINGS = ("stream_map", "faker_config", "flattening_", "batch_config")


def _tap_output(*args: str) -> str:
    """Run the tap with no config and no TAP_HEYMARKET_* variables, as a new user would."""
    return subprocess.run(
        [*TAP, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout


def tap_about() -> dict:
    """`tap-heymarket --about --format=json`, as a new user would run it."""
    return json.loads(_tap_output("--about", "--format=json"))


def discovered_catalog() -> dict:
    """Run discovery in a subprocess, exactly as Meltano does, and select every stream that
    is selected by default (`contact_status` costs one request per contact: opt in)."""
    catalog = json.loads(_tap_output("--discover"))
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = entry["metadata"].get("selected-by-default", True)
    catalog["streams"].sort(key=lambda s: s["tap_stream_id"])
    return catalog


def render_catalog(catalog: dict) -> str:
    return json.dumps(catalog, indent=2, sort_keys=True) + "\n"


def settings_table() -> str:
    """The tap's own settings from `--about --format=markdown`, as a Markdown table."""
    about = _tap_output("--about", "--format=markdown")
    lines = about.split("## Settings", 1)[1].strip().splitlines()
    table = [line for line in lines if line.startswith("|")]
    kept = [row for row in table if not row.split("|")[1].strip().startswith(SDK_SETTINGS)]
    return "\n".join(kept) + "\n"


# --------------------------------------------------------------------------- plugin definition

#: The plugin definition a user adds from (`meltano add --plugin-type extractor tap-heymarket
#: --from-ref plugin/tap-heymarket.yml`), in Meltano Hub's extractor format.
PLUGIN_DEFINITION = ROOT / "plugin" / "tap-heymarket.yml"
PLUGIN_HEADER = """\
# tap-heymarket's Meltano plugin definition, in Meltano Hub's extractor format.
# Generated from `tap-heymarket --about --format=json` by `make plugin-definition`; do not edit
# (tests/tap/test_plugin_definition.py fails while the two differ). Add it to a project with
#   meltano add --plugin-type extractor tap-heymarket --from-ref plugin/tap-heymarket.yml
# (README.md, "Install into your own Meltano project").
"""
#: Never selected by a project that keeps the definition's `select`: one request per contact.
COSTLY_STREAMS = ("contact_status",)
#: JSON schema type -> Meltano setting kind. A date-time stays `string`: with `date_iso8601`
#: Meltano reinterprets a malformed date (2024-13-01 as 2024-01-13) before the tap's own check
#: can name it.
KINDS = {"string": "string", "integer": "integer", "boolean": "boolean", "object": "object"}
KINDS.update({"array": "array", "number": "decimal"})


def _kind(spec: dict) -> str:
    types = spec.get("type", ["string"])
    types = [types] if isinstance(types, str) else types
    (kind,) = {KINDS[t] for t in types if t != "null"}
    return kind


def plugin_definition(about: dict | None = None) -> dict:
    """The extractor's Meltano plugin definition, from `--about --format=json`: every setting
    with its kind, label, description, default and `sensitive` flag; the auth methods as
    `settings_group_validation`; a `select` that leaves out the costly streams."""
    from tap_heymarket.settings import AUTH_METHODS  # the dev helpers may import the tap

    about = about or tap_about()
    settings = []
    for name, spec in about["settings"]["properties"].items():
        setting: dict = {"name": name, "kind": _kind(spec), "label": spec.get("title", name)}
        if spec.get("description"):
            setting["description"] = spec["description"]
        if "default" in spec:
            setting["value"] = spec["default"]
        if spec.get("secret"):
            setting["sensitive"] = True
        settings.append(setting)
    return {
        "name": about["name"],
        "namespace": about["name"].replace("-", "_"),
        "label": "Heymarket",
        "description": about["description"],
        "domain_url": "https://www.heymarket.com",
        "keywords": ["meltano_sdk"],
        # The distribution's name; until it is on an index, pip finds a built wheel through
        # PIP_FIND_LINKS (README.md, "Install into your own Meltano project").
        "pip_url": about["name"],
        "executable": about["name"],
        "supported_python_versions": about["supported_python_versions"],
        "capabilities": about["capabilities"],
        "settings_group_validation": [list(group) for group in AUTH_METHODS],
        "settings": settings,
        "select": ["*.*", *(f"!{stream}.*" for stream in COSTLY_STREAMS)],
    }


def render_plugin_definition(definition: dict) -> str:
    import yaml  # PyYAML comes with singer-sdk

    body = yaml.safe_dump(definition, sort_keys=False, width=100, allow_unicode=True)
    return PLUGIN_HEADER + body
