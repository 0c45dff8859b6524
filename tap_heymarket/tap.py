"""The Heymarket tap: settings, their validation, and the stream list."""

from __future__ import annotations

import typing as t
from functools import cached_property
from pathlib import PurePath

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError

from tap_heymarket import (
    __version__,
    account_streams,
    contact_streams,
    conversation_streams,
    message_streams,
    swept_stream,
)
from tap_heymarket.pacing import RequestPacer
from tap_heymarket.settings import (
    CONFIG_JSONSCHEMA,
    InvalidConfigError,
    Settings,
    semantic_config_errors,
    unknown_settings,
)
from tap_heymarket.state import (
    START_OVER,
    InvalidStateError,
    all_state_errors,
    state_errors,
    unknown_streams,
    unwrap_meltano,
)
from tap_heymarket.writer import BufferedMsgSpecWriter

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream


class TapHeymarket(Tap):
    # `--about` shows the docstring as it is: one line, every stream.
    """Heymarket contacts, contact fields and their values, tags, contact status, messages, conversations, inboxes, team members, templates and surveys."""  # noqa: E501

    name = "tap-heymarket"
    #: msgspec encodes RECORD messages several times faster than the default (simplejson)
    #: writer; same JSON values, UTF-8 instead of \u escapes; flushed at every message but
    #: RECORD (writer.py). See docs/benchmarks.md.
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = CONFIG_JSONSCHEMA

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        state = kwargs.get("state")
        if state is not None and not isinstance(state, (dict, str, PurePath)):
            # The SDK would take a list for a file path; say what is wrong instead.
            raise InvalidStateError(f"invalid --state: {state_errors(state, [])[0]}; {START_OVER}")
        super().__init__(*args, **kwargs)

    @classmethod
    def get_plugin_version(cls) -> str:
        """`tap_heymarket.__version__`, the one place the version is written."""
        return __version__

    @cached_property
    def settings(self) -> Settings:
        """The settings every stream reads (defaults from tap_heymarket/settings.py)."""
        return Settings.of(self.config)

    @cached_property
    def pacer(self) -> RequestPacer:
        """The one pacer every stream shares (built on first use: the SDK builds the
        streams inside `Tap.__init__`, once the config is set)."""
        return RequestPacer(float(self.settings.max_requests_per_minute))

    _warned_unknown_settings = False

    # Private override: the SDK's only config-validation hook (0.54 has no public one).
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """JSON-schema checks, then the rules a schema cannot express, as one error."""
        try:
            errors = super()._validate_config(raise_errors=True)
        except ConfigValidationError as exc:
            errors = list(exc.errors)
        errors += semantic_config_errors(self.config)
        if not self._warned_unknown_settings:
            self._warned_unknown_settings = True
            known = self.config_jsonschema["properties"]
            for line in unknown_settings(self.config, known):
                self.logger.warning("config: %s", line)
        if errors and raise_errors:
            raise InvalidConfigError("invalid config: " + "; ".join(errors))
        return errors

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Refuse a corrupt or foreign state file before any request is made; unwrap the
        `{"singer_state": ...}` that `meltano state get` prints (state.py)."""
        state, wrapped = unwrap_meltano(state)
        if wrapped:
            self.logger.info("--state: the tap's state inside Meltano's %r is used", "singer_state")
        known, unknown = unknown_streams(state, self.streams)
        if unknown and not known:
            raise InvalidStateError(
                f"invalid --state: it has bookmarks only for streams tap-heymarket does not have "
                f"({', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}): it is not "
                f"this tap's state; {START_OVER}"
            )
        if unknown:
            self.logger.warning(
                "--state: the bookmarks of streams tap-heymarket does not have are ignored: %s",
                ", ".join(unknown),
            )
        incremental = [s.name for s in self.streams.values() if s.replication_key]
        errors = all_state_errors(state, incremental)
        if errors:
            raise InvalidStateError(f"invalid --state: {'; '.join(errors)}; {START_OVER}")
        super().load_state(state)

    #: True while `--discover` runs: with credentials, contacts then reads the team's
    #: custom fields for its `cf_` columns (see contact_feed.fields_for_discovery).
    discovering = False

    def run_discovery(self) -> str:
        """The catalog; with credentials, `contacts` has a column per custom field."""
        self.discovering = True
        return super().run_discovery()

    def discover_streams(self) -> list[Stream]:
        """Every stream the tap offers."""
        return [
            contact_streams.ContactsStream(self),
            account_streams.ContactFieldsStream(self),
            contact_streams.ContactFieldValuesStream(self),
            contact_streams.ContactStatusStream(self),
            account_streams.TagsStream(self),
            account_streams.InboxesStream(self),
            account_streams.TeamMembersStream(self),
            account_streams.TemplatesStream(self),
            account_streams.SurveysStream(self),
            message_streams.MessagesStream(self),
            swept_stream.DeleteSweepsStream(self),
            conversation_streams.ConversationsStream(self),
        ]


if __name__ == "__main__":
    TapHeymarket.cli()
