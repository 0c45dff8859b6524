"""plugin/tap-heymarket.yml, the plugin definition a user adds the tap from, says what the tap
itself reports (`tap-heymarket --about --format=json`, a subprocess) and what its checks do.

`meltano add --plugin-type extractor tap-heymarket --from-ref plugin/tap-heymarket.yml` takes
it as written: tests/e2e/test_new_project.py does that in a brand-new Meltano project.
"""

from __future__ import annotations

import json

import pytest
import yaml

from heymarket_dev.generated import (
    PLUGIN_DEFINITION,
    plugin_definition,
    render_plugin_definition,
    tap_about,
)
from tap_heymarket.settings import SECRETS, semantic_config_errors
from tests.support.docs_text import TAP_PLUGIN
from tests.support.tap_runner import REPO_ROOT


@pytest.fixture(scope="module")
def about() -> dict:
    return tap_about()


@pytest.fixture(scope="module")
def definition() -> dict:
    return yaml.safe_load(PLUGIN_DEFINITION.read_text())


def test_the_definition_is_generated_from_about(about: dict) -> None:
    expected = render_plugin_definition(plugin_definition(about))
    assert PLUGIN_DEFINITION.read_text() == expected, "run `make plugin-definition`"


def test_every_setting_is_declared_with_kind_label_and_description(
    about: dict, definition: dict
) -> None:
    declared = {s["name"]: s for s in definition["settings"]}
    assert list(declared) == list(about["settings"]["properties"])
    for name, setting in declared.items():
        assert setting["kind"] and setting["label"] and setting.get("description"), name
        prop = about["settings"]["properties"][name]
        if "default" in prop:
            assert setting["value"] == prop["default"], name
    # Meltano would reinterpret a malformed date under `date_iso8601` before the tap sees it.
    assert declared["start_date"]["kind"] == "string"
    assert definition["executable"] == "tap-heymarket" == about["name"]
    assert definition["capabilities"] == about["capabilities"]


def test_exactly_the_secrets_are_sensitive(definition: dict) -> None:
    sensitive = {s["name"] for s in definition["settings"] if s.get("sensitive")}
    assert sensitive == set(SECRETS) and sensitive


def test_the_auth_groups_are_the_tap_s_own_rules(definition: dict) -> None:
    """Each group of `settings_group_validation`, set alone, satisfies the tap's auth check;
    a group with a setting left out, two groups, or none, do not."""

    def auth_errors(names: set[str]) -> list[str]:
        config = {name: "x" for name in names}
        return [e for e in semantic_config_errors(config) if "api_" in e]

    groups = [set(group) for group in definition["settings_group_validation"]]
    assert len(groups) == 2
    for group in groups:
        assert not auth_errors(group), group
        for name in group:
            assert auth_errors(group - {name}), (group, name)
    assert auth_errors(groups[0] | groups[1])
    assert auth_errors(set())


def test_the_default_selection_leaves_out_the_streams_not_selected_by_default(
    definition: dict,
) -> None:
    """The catalog marks `contact_status` (one request per contact) not selected by default;
    Meltano's `*.*` ignores that mark, so the definition's `select` excludes it by name."""
    catalog = json.loads((REPO_ROOT / "catalog" / "catalog.json").read_text())
    costly = {
        s["tap_stream_id"]
        for s in catalog["streams"]
        for m in s["metadata"]
        if m["breadcrumb"] == [] and m["metadata"].get("selected-by-default") is False
    }
    assert costly == {"contact_status"}
    assert definition["select"] == ["*.*", *sorted(f"!{name}.*" for name in costly)]


def test_the_repository_project_declares_the_same_plugin(definition: dict) -> None:
    """meltano.yml's own tap-heymarket block (installed from this checkout) declares every
    setting with the definition's kind and `sensitive` flag, the same auth groups and the
    same capabilities."""
    ours = {s["name"]: s for s in TAP_PLUGIN["settings"]}
    theirs = {s["name"]: s for s in definition["settings"]}
    assert set(ours) == set(theirs)
    for name, setting in theirs.items():
        assert ours[name]["kind"] == setting["kind"], name
        assert bool(ours[name].get("sensitive")) == bool(setting.get("sensitive")), name
    assert TAP_PLUGIN["settings_group_validation"] == definition["settings_group_validation"]
    assert TAP_PLUGIN["capabilities"] == definition["capabilities"]
    assert TAP_PLUGIN["namespace"] == definition["namespace"]
