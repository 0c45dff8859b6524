"""The tap's settings: one table, its defaults written once, and the checks a schema cannot express.

`CONFIG_JSONSCHEMA` is what `--about`, Meltano and the README's settings table
(`make settings-table`) show; `Settings.of(config)` is what the streams read, with every
default taken from `DEFAULTS`, the one place a default is written. `semantic_config_errors`
holds the rules the JSON schema cannot say (one auth method, a URL, whole numbers with a
minimum); each message names the setting, never a secret's value.
"""

from __future__ import annotations

import difflib
import ipaddress
import typing as t
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

from singer_sdk import typing as th


class InvalidConfigError(ValueError):
    """Settings that cannot work; the message names each setting and the problem."""


#: Every setting's default, written once. Heymarket allows 500 requests a minute per
#: team: the pace stays a little under it.
DEFAULTS: dict[str, t.Any] = {
    "api_url": "https://api.heymarket.com",
    "page_size": 500,
    "max_requests_per_minute": 480,
    "request_timeout": 60,
    "max_retries": 8,
    "max_rate_limit_wait": 900,
    "messages_lookback_hours": 72,
    "detect_deletes": False,
    "replace_nul_characters": True,
    "read_contact_status": False,
}

CONFIG_JSONSCHEMA: dict[str, t.Any] = th.PropertiesList(
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULTS["api_url"],
        title="API URL",
        description="Base URL of the Heymarket API. Change it only to reach a sandbox.",
    ),
    th.Property(
        "api_secret_id",
        th.StringType,
        secret=True,
        title="API Secret ID",
        description=(
            "ID of a Heymarket API secret (Settings > Integrations > API). Used with "
            "`api_secret_key` to sign a short-lived JWT for every request (recommended)."
        ),
    ),
    th.Property(
        "api_secret_key",
        th.StringType,
        secret=True,
        title="API Secret Key",
        description="The secret key that belongs to `api_secret_id`.",
    ),
    th.Property(
        "api_key",
        th.StringType,
        secret=True,
        title="Legacy API Key",
        description=(
            "Legacy team API key, sent as a bearer token. Heymarket plans to deprecate "
            "it: prefer `api_secret_id` + `api_secret_key`. Configure exactly one method."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start Date",
        description=(
            "Only records updated at or after this date-time are extracted. A saved "
            "bookmark later than it takes precedence. A `detect_deletes` run reads every "
            "record of the streams it sweeps."
        ),
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        default=DEFAULTS["page_size"],
        title="Page Size",
        description=(
            "`limit` asked for on each contacts and messages request. The API's default is "
            "30 and its maximum is not documented; the tap copes with a server that "
            "returns fewer."
        ),
    ),
    th.Property(
        "max_requests_per_minute",
        th.IntegerType,
        default=DEFAULTS["max_requests_per_minute"],
        title="Max Requests per Minute",
        description=(
            "Client-side pace. Heymarket allows 500 requests a minute per team; lower "
            "it if other clients share the team's quota."
        ),
    ),
    th.Property(
        "request_timeout",
        th.IntegerType,
        default=DEFAULTS["request_timeout"],
        title="Request Timeout",
        description="Seconds to wait for one API answer before retrying.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=DEFAULTS["max_retries"],
        title="Max Retries",
        description=(
            "Retries for one request after a 5xx, timeout, dropped connection or "
            "malformed body, with exponential backoff (0.5 s doubling, up to 30 s)."
        ),
    ),
    th.Property(
        "max_rate_limit_wait",
        th.IntegerType,
        default=DEFAULTS["max_rate_limit_wait"],
        title="Max Rate-Limit Wait",
        description=(
            "Seconds one request may spend waiting out HTTP 429 answers (honouring "
            "Retry-After when sent) before the sync fails."
        ),
    ),
    th.Property(
        "messages_lookback_hours",
        th.IntegerType,
        default=DEFAULTS["messages_lookback_hours"],
        title="Messages Lookback (hours)",
        description=(
            "Only when the API offers no way to walk messages by `updated`: each "
            "incremental run re-reads the messages created this many hours before the "
            "last one read, to catch their status changes. A change to an older message "
            "is caught by the next full sync (see docs/messages.md)."
        ),
    ),
    th.Property(
        "detect_deletes",
        th.BooleanType,
        default=DEFAULTS["detect_deletes"],
        title="Detect Deletes",
        description=(
            "Sweep for deletes: walk all of `contacts`, `tags` and `templates` from the "
            "top (about one request per `page_size` contacts, as a full sync) and, once "
            "the walk is proven complete, send ACTIVATE_VERSION so that the target marks "
            "the rows of records deleted in Heymarket (target-postgres: `_sdc_deleted_at`). "
            "Schedule it beside the regular runs, under the same state id (see docs/deletes.md)."
        ),
    ),
    th.Property(
        "replace_nul_characters",
        th.BooleanType,
        default=DEFAULTS["replace_nul_characters"],
        title="Replace NUL Characters",
        description=(
            "Replace U+0000 with U+FFFD in every string of every record, at any depth "
            "and in object keys too. Heymarket text can hold U+0000, which PostgreSQL "
            "text and jsonb columns (and most SQL loaders) reject, failing the load. "
            "Turn off only for a loader that keeps U+0000 and a need for it."
        ),
    ),
    th.Property(
        "read_contact_status",
        th.BooleanType,
        default=DEFAULTS["read_contact_status"],
        title="Read Contact Status",
        description=(
            "Read the `contact_status` stream: one `POST /v1/contact/status` request per "
            "contact a run reads (about 21 minutes per 10,000 contacts at 480 requests a "
            "minute). Off by default, so that selecting every stream (Meltano's `*.*`) never "
            "starts it: with it off, a selected `contact_status` reads nothing and says so."
        ),
    ),
).to_dict()

#: The settings that hold a secret, as the table marks them (`secret=True`): the auth
#: settings, whose values never reach a log, an error or `--about`.
SECRETS = tuple(
    name for name, spec in CONFIG_JSONSCHEMA["properties"].items() if spec.get("secret")
)


@dataclass(frozen=True)
class Settings:
    """The settings the streams read, each with its default from `DEFAULTS`."""

    api_url: str
    start_date: str | None
    page_size: int
    max_requests_per_minute: int
    request_timeout: int
    max_retries: int
    max_rate_limit_wait: int
    messages_lookback_hours: int
    detect_deletes: bool
    replace_nul_characters: bool
    read_contact_status: bool

    @classmethod
    def of(cls, config: t.Mapping[str, t.Any]) -> Settings:
        """The settings of a (validated) config; a setting left out takes its default."""

        def get(name: str) -> t.Any:
            value = config.get(name)
            return DEFAULTS[name] if value is None else value

        start = config.get("start_date")
        return cls(
            api_url=str(get("api_url")).rstrip("/"),
            start_date=str(start) if start else None,
            page_size=int(get("page_size")),
            max_requests_per_minute=int(get("max_requests_per_minute")),
            request_timeout=int(get("request_timeout")),
            max_retries=int(get("max_retries")),
            max_rate_limit_wait=int(get("max_rate_limit_wait")),
            messages_lookback_hours=int(get("messages_lookback_hours")),
            detect_deletes=bool(get("detect_deletes")),
            replace_nul_characters=bool(get("replace_nul_characters")),
            read_contact_status=bool(get("read_contact_status")),
        )


#: The auth methods, each a group of settings that must all be set: exactly one group is
#: (`semantic_config_errors`). Meltano's `settings_group_validation` in the plugin definition
#: (plugin/tap-heymarket.yml) is generated from it.
AUTH_METHODS: tuple[tuple[str, ...], ...] = (("api_secret_id", "api_secret_key"), ("api_key",))


def _is_loopback(host: str) -> bool:
    """This machine: `localhost` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unknown_settings(config: t.Mapping[str, t.Any], known: t.Iterable[str]) -> list[str]:
    """A line for each config key that is no setting, with the closest one: a misspelt
    setting (`page_sise`) would otherwise be ignored in silence."""
    names = list(known)
    lines = []
    for key in sorted(set(config) - set(names)):
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        lines.append(f"{key!r} is not a setting of tap-heymarket and is ignored{hint}")
    return lines


def has_credentials(config: t.Mapping[str, t.Any]) -> bool:
    """True if an auth method is configured (complete or not)."""
    return any(config.get(k) for k in SECRETS)


def semantic_config_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """Errors that name the setting; never the secret values themselves."""
    errors: list[str] = []
    url = str(config.get("api_url") or DEFAULTS["api_url"])
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        errors.append(f"api_url must be an http(s) URL such as {DEFAULTS['api_url']}, got {url!r}")
    elif parsed.scheme == "http" and not _is_loopback(parsed.hostname or ""):
        errors.append(
            f"api_url {url!r} is plain http to another machine: the JWT or API key would "
            "cross the network unencrypted; use https:// (plain http is for a sandbox on "
            "this machine only)"
        )

    jwt_parts = [bool(config.get("api_secret_id")), bool(config.get("api_secret_key"))]
    has_key = bool(config.get("api_key"))
    if any(jwt_parts) and not all(jwt_parts):
        missing = "api_secret_key" if jwt_parts[0] else "api_secret_id"
        errors.append(f"api_secret_id and api_secret_key go together: {missing} is missing")
    elif all(jwt_parts) and has_key:
        errors.append(
            "configure exactly one auth method: api_secret_id + api_secret_key, or api_key, "
            "not both"
        )
    elif not any(jwt_parts) and not has_key:
        errors.append("no credentials: set api_secret_id + api_secret_key (recommended) or api_key")

    start_date = config.get("start_date")
    if start_date is not None:
        try:
            datetime.fromisoformat(str(start_date))
        except ValueError:
            errors.append(f"start_date must be an ISO 8601 date or date-time, got {start_date!r}")
    if config.get("detect_deletes") and config.get("batch_config"):
        # BATCH messages go out after the records are read, so an ACTIVATE_VERSION at the
        # end of the stream would reach the target before its last batch.
        errors.append("detect_deletes does not work with batch_config: unset one of them")
    for name, minimum in (
        ("page_size", 1),
        ("max_requests_per_minute", 1),
        ("request_timeout", 1),
        ("max_retries", 0),
        ("max_rate_limit_wait", 0),
        ("messages_lookback_hours", 0),
    ):
        value = config.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{name} must be a whole number, got {value!r}")
        elif value < minimum:
            errors.append(f"{name} must be at least {minimum}, got {value}")
    return errors
