"""The README's settings table and meltano.yml's tap settings match what the tap itself
reports (`tap-heymarket --about`, a subprocess). The docs as files: tests/unit/test_docs.py."""

from __future__ import annotations

from heymarket_dev.generated import settings_table, tap_about
from tests.support.docs_text import README, TAP_PLUGIN, between


def test_settings_table_matchestap_about() -> None:
    assert between(README, "settings-table") == settings_table(), "run `make settings-table`"


#: meltano.yml `kind` for each JSON Schema type of a tap setting. No `date_iso8601`:
#: Meltano reinterprets a malformed date under it, so the tap's own check never sees it.
KINDS = {
    "string": {"string", "password"},
    "integer": {"integer"},
    "boolean": {"boolean"},
    "object": {"object"},
}


def _words(text: str) -> str:
    return " ".join(text.split())


def test_tap_replaces_nul_by_default() -> None:
    """`replace_nul_characters` is on unless turned off, and meltano.yml says so with the
    tap's own words."""
    about = tap_about()["settings"]["properties"]["replace_nul_characters"]
    assert about["default"] is True and "boolean" in about["type"]
    (declared,) = [s for s in TAP_PLUGIN["settings"] if s["name"] == "replace_nul_characters"]
    assert declared["kind"] == "boolean" and declared.get("value", True) is True
    assert declared["label"] == about["title"]
    assert _words(declared["description"]) == _words(about["description"])
    assert "U+0000" in about["description"] and "U+FFFD" in about["description"]


def test_meltano_yml_declares_every_tap_setting() -> None:
    """Every setting `tap-heymarket --about` lists (the SDK's standard ones too) is declared
    for the tap-heymarket extractor, with a kind that fits its type, and nothing else."""
    about = tap_about()["settings"]["properties"]
    declared = {s["name"]: s for s in TAP_PLUGIN["settings"]}
    assert set(declared) == set(about), (
        f"missing in meltano.yml: {sorted(set(about) - set(declared))}, "
        f"not in --about: {sorted(set(declared) - set(about))}"
    )
    for name, prop in about.items():
        types = [prop["type"]] if isinstance(prop.get("type"), str) else prop.get("type", [])
        (kind,) = [t for t in types if t != "null"]
        assert declared[name]["kind"] in KINDS[kind], (name, kind, declared[name]["kind"])
        assert declared[name].get("description"), f"{name}: no description"
