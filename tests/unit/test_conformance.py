"""The one conformance path (tap_heymarket/conformance.py): every record validates against
the schema the tap sends, and no value is lost, whatever JSON the API puts in any field.

The property tests draw arbitrary JSON values for every property of every stream's schema
(and fields the schema does not list), conform the record as the stream does, and check it
with a JSON Schema validator (the one tests/support/singer_check.py uses on real runs). "Not lost"
means: the value is in its column with the same meaning (`meaning` below: what the
coercions may change, and nothing else), in its alternate column, or as sent in
`extra_fields` under its own name.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import re
import typing as t
from datetime import datetime

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from tap_heymarket import timestamps
from tap_heymarket.answers import json_text, without_nul
from tap_heymarket.conformance import Conformer
from tap_heymarket.fast_checks import compile_fit
from tap_heymarket.field_columns import as_text
from tap_heymarket.fitting import (
    API_EXTRA_FIELDS,
    EXTRA_FIELDS,
    ConformanceError,
    Unfit,
    compile_schema,
    scrub_any,
)
from tap_heymarket.tap import TapHeymarket
from tests.support.singer_check import FORMATS
from tests.support.tap_runner import sandbox_config

LOGGER = logging.getLogger("test-conformance")
OFFLINE = "http://127.0.0.1:9"  # building a tap makes no request

TAP = TapHeymarket(config=sandbox_config(OFFLINE), parse_env_config=False)
#: Every stream whose records come from the API (delete_sweeps is the tap's own).
STREAMS = sorted(name for name in TAP.streams if name != "delete_sweeps")

# JSON as a decoder produces it: no NaN/inf, integers of any size, text with U+0000.
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "0", "1", "true", "no", "12", "-7", "1.5", "2024-05-01T12:00:00Z", "a\x00b", "\x00"]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**63 + 2)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
    | st.sampled_from(
        [
            "2024-12-24T14:04:55.021462Z",
            "2024-12-24T03:58:12.946Z",
            "2024-12-24T03:58:12",
            "2024-12-24T05:58:12+02:00",
            "not-a-date",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(text, children, max_size=4)
        | st.dictionaries(st.sampled_from(["0", "1", "2"]), children, min_size=1, max_size=3)
    ),
    max_leaves=12,
)


def _validator(schema: dict) -> Draft7Validator:
    return Draft7Validator(schema, format_checker=FORMATS)


def _conformer(stream_name: str, *, replace_nul: bool = True) -> Conformer:
    stream = TAP.streams[stream_name]
    plan = stream.conformer()
    return Conformer(
        stream=plan.stream,
        schema=plan.schema,
        logger=LOGGER,
        trusted=plan.trusted,
        alternates=plan.alternates,
        replace_nul=replace_nul,
    )


def _valid_trusted(stream_name: str, key: str, prop: dict) -> t.Any:
    """A value for a field the stream checks before conformance (keys, cursors)."""
    kinds = prop.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if prop.get("format") == "date-time":
        return "2024-05-01T12:34:56.789000+00:00"
    if "integer" in kinds:
        return 42
    return "42"


def records_for(stream_name: str) -> st.SearchStrategy[dict]:
    plan = TAP.streams[stream_name].conformer()
    props = plan.schema["properties"]
    fixed = {
        k: st.just(_valid_trusted(stream_name, k, props[k])) for k in plan.trusted if k in props
    }
    optional = {k: json_values for k in props if k not in plan.trusted and k != EXTRA_FIELDS}
    if plan.has_extra:
        optional["not_in_schema"] = json_values
        optional[API_EXTRA_FIELDS] = json_values
    else:
        # A stream without `extra_fields` builds its rows itself: its values, as it builds them.
        optional = {k: json_values.map(BUILT_BY_THE_STREAM[stream_name, k]) for k in optional}
    return st.fixed_dictionaries(fixed, optional=optional)


#: How streams without `extra_fields` build each field (they read no API record as is).
BUILT_BY_THE_STREAM = {("contact_field_values", "value"): as_text}


def meaning(value: t.Any) -> t.Any:
    """What a lossless coercion keeps: the same number, truth value, instant or items."""
    if isinstance(value, bool):
        return ("num", int(value))
    if isinstance(value, (int, float)):
        return ("num", value)  # 1 == 1.0 as the coercions see it
    if isinstance(value, str):
        text = value.replace("\x00", "\ufffd").strip()
        if text.lower() in ("true", "yes"):
            return ("num", 1)
        if text.lower() in ("false", "no"):
            return ("num", 0)
        if re.fullmatch(r"[+-]?\d+", text):
            return ("num", int(text))
        try:
            number = float(text)
            if math.isfinite(number) and text.lower() not in ("nan", "inf", "infinity"):
                return ("num", number)
        except ValueError:
            pass
        try:
            return ("time", timestamps.parse(text))
        except (TypeError, ValueError, OverflowError):
            return ("str", value.replace("\x00", "\ufffd"))
    if isinstance(value, list):
        return ("list", [meaning(v) for v in value])
    if isinstance(value, dict):
        keys = list(value)
        if sorted(keys) == [str(i) for i in range(len(keys))]:  # `{}` stands for `[]` too
            return ("list", [meaning(value[str(i)]) for i in range(len(keys))])
        return ("dict", {k.replace("\x00", "\ufffd"): meaning(v) for k, v in value.items()})
    return value


def _assert_nothing_lost(original: dict, out: dict, plan: Conformer) -> None:
    extra = out.get(EXTRA_FIELDS) or {}
    # An alternate column may hold the other shape of its field (`invited` -> `invited_list`).
    took_other_shape = {
        alt
        for key, alt in plan.alternates.items()
        if original.get(key) is not None and out.get(key) is None and key not in extra
    }
    for key, sent in original.items():
        if key in took_other_shape and sent is None:
            continue
        name = "extra_fields" if key == API_EXTRA_FIELDS else key
        if key not in plan.fitters or key == EXTRA_FIELDS:
            if key in plan.trusted:
                assert out[key] == sent
                continue
            assert extra[name] == scrub_any(sent), f"{key}: not kept in extra_fields"
            continue
        emitted = out.get(key)
        if name in extra:
            assert emitted is None and extra[name] == scrub_any(sent), key
        elif emitted is None and sent is not None:
            alternate = plan.alternates.get(key)
            if alternate and out.get(alternate) is not None:
                assert meaning(out[alternate]) == meaning(sent), key
            else:
                assert sent == "", f"{key}: {sent!r} became null and was not kept"
        else:
            assert meaning(emitted) == meaning(sent), f"{key}: {sent!r} became {emitted!r}"


def _assert_no_nul(value: t.Any) -> None:
    if isinstance(value, str):
        assert "\x00" not in value
    elif isinstance(value, dict):
        for k, v in value.items():
            _assert_no_nul(k)
            _assert_no_nul(v)
    elif isinstance(value, list):
        for v in value:
            _assert_no_nul(v)


@pytest.mark.parametrize("stream_name", STREAMS)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(data=st.data())
def test_any_json_conforms_and_nothing_is_lost(stream_name: str, data: st.DataObject) -> None:
    record = data.draw(records_for(stream_name))
    original = copy.deepcopy(record)
    plan = _conformer(stream_name)
    out = plan.conform(record)
    errors = list(_validator(plan.schema).iter_errors(out))
    assert not errors, f"{stream_name}: {errors[0].message} in {out!r}"
    _assert_nothing_lost(original, out, plan)
    _assert_no_nul(out)


@pytest.mark.parametrize("stream_name", ["messages", "contacts", "conversations", "inboxes"])
@settings(max_examples=100, deadline=None, derandomize=True)
@given(data=st.data())
def test_without_nul_replacement_records_still_validate(
    stream_name: str, data: st.DataObject
) -> None:
    record = data.draw(records_for(stream_name))
    original = copy.deepcopy(record)
    plan = _conformer(stream_name, replace_nul=False)
    out = plan.conform(record, clean=True)
    assert not list(_validator(plan.schema).iter_errors(out))
    # Nothing searched, nothing replaced: every string as sent (or coerced).
    for key, sent in original.items():
        if key in out and isinstance(sent, str) and isinstance(out[key], str):
            if plan.fitters.get(key) is not None and out[key] == sent.strip():
                continue
            if "\x00" in sent and key in plan.fitters:
                assert "\x00" in out[key] or out[key] != sent.replace("\x00", "\ufffd")


def test_values_that_fit_are_emitted_as_they_are() -> None:
    plan = _conformer("messages")
    record = {
        "id": 1,
        "date": "2024-05-01T12:34:56.789000+00:00",
        "updated": "2024-05-01T12:34:56.789000+00:00",
        "text": "hello",
        "user": 7,
        "super": False,
        "media": "https://cdn.example.com/m/1.jpg",
        "custom": {"data": [1, 2], "type": ""},
        "conversation": {"id": 3, "anything": [1, "x"]},
    }
    expected = {**copy.deepcopy(record), "extra_fields": None}
    assert plan.conform(record) == expected
    assert record["custom"] is not expected["custom"]  # (a deep copy was compared)


@pytest.mark.parametrize(
    ("stream_name", "field", "sent", "emitted"),
    [
        ("messages", "super", 1, True),
        ("messages", "super", 0, False),
        ("messages", "flagged", "true", True),
        ("contact_status", "blocked", "no", False),
        ("messages", "user", "784779", 784779),
        ("messages", "broadcast_id", 12.0, 12),
        ("messages", "phone", 14155553434, "14155553434"),
        ("contacts", "created", "2024-12-24T14:04:55.021462Z", "2024-12-24T14:04:55.021462+00:00"),
        ("contacts", "created", "2024-12-24T03:58:12.946Z", "2024-12-24T03:58:12.946000+00:00"),
        ("contacts", "created", "2024-12-24T03:58:12", "2024-12-24T03:58:12.000000+00:00"),
        ("contacts", "created", "2024-12-24T05:58:12+02:00", "2024-12-24T03:58:12.000000+00:00"),
        ("contacts", "created", "", None),
        ("contacts", "tags", {"0": {"id": 1}, "1": {"id": "2"}}, [{"id": 1}, {"id": 2}]),
        ("contacts", "custom", {"12": 5, "13": None}, {"12": "5", "13": None}),
        ("messages", "media", ["https://a/1.jpg"], None),
        ("inboxes", "invited", ["a@example.com"], None),
        ("messages", "text", "a\x00b", "a\ufffdb"),
    ],
)
def test_lossless_coercions(stream_name: str, field: str, sent: t.Any, emitted: t.Any) -> None:
    plan = _conformer(stream_name)
    out = plan.conform({"id": 1, field: sent})
    assert out[field] == emitted
    assert type(out[field]) is type(emitted)
    assert not out.get(EXTRA_FIELDS), out
    assert not list(_validator(plan.schema).iter_errors(out))


@pytest.mark.parametrize("sent", ["\u00b2", "\u0663", "\uff11\uff12", "\u0661\u0662"])
def test_digits_of_other_scripts_stay_strings(sent: str) -> None:
    """`str.isdigit` takes `²` (which `int` refuses) and Arabic or full-width digits (whose
    text `int` would lose): only 0-9 become an integer."""
    plan = _conformer("contacts")
    out = plan.conform({"id": 1, "note": [{"id": sent, "user_id": sent}]})
    assert out["note"] == [{"id": sent, "user_id": sent}]
    assert not out.get(EXTRA_FIELDS), out
    assert not list(_validator(plan.schema).iter_errors(out))


def test_alternate_columns_take_the_other_shape() -> None:
    messages = _conformer("messages").conform({"id": 1, "media": ["u1", "u2"]})
    assert messages["media"] is None and messages["media_list"] == ["u1", "u2"]
    inboxes = _conformer("inboxes").conform({"id": 1, "invited": ["a@b.c"]})
    assert inboxes["invited"] is None and inboxes["invited_list"] == ["a@b.c"]
    assert _conformer("inboxes").conform({"id": 1, "invited": True})["invited"] is True


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("user", "Dana"),  # a name where the schema declares an integer id
        ("user", 2**63),  # does not fit a BIGINT column
        ("super", 2),  # a count, not a flag
        ("text", {"body": "hi"}),
        ("custom", ["not", "an", "object"]),
        ("media", {"url": "u"}),
        ("updated_by", None),  # (not in the schema: extra_fields too, see below)
    ],
)
def test_a_value_that_does_not_fit_is_kept_as_sent(field: str, sent: t.Any) -> None:
    plan = _conformer("messages")
    out = plan.conform({"id": 1, field: copy.deepcopy(sent)})
    assert out[EXTRA_FIELDS] == {field: sent}
    assert out.get(field) is None
    assert not list(_validator(plan.schema).iter_errors(out))


def test_one_warning_per_field_and_a_metric(caplog: pytest.LogCaptureFixture) -> None:
    plan = _conformer("messages")
    with caplog.at_level(logging.WARNING, logger=LOGGER.name):
        for i in range(5):
            plan.conform({"id": i, "user": "Dana", "super": 7})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert any(
        "messages: `user` came as a string where the schema declares integer or null" in w
        for w in warnings
    )
    assert plan.not_conformed == {"user": 5, "super": 5}
    with caplog.at_level(logging.INFO, logger="singer_sdk.metrics"):
        plan.flush_metrics()
    metrics = [r.getMessage() for r in caplog.records if "values_not_conformed" in r.getMessage()]
    assert len(metrics) == 2
    assert '"value":5' in metrics[0] and '"field":"super"' in metrics[0]
    assert not plan.not_conformed


def test_the_api_s_own_extra_fields_and_the_stream_s_are_both_kept() -> None:
    plan = _conformer("contact_status")
    out = plan.conform(
        {
            "id": 1,
            "contact_updated": "2024-05-01T12:34:56.789000+00:00",
            EXTRA_FIELDS: {"id": 2},  # what the stream put there (the id the API answered)
            API_EXTRA_FIELDS: {"x": 1},
            "locked": "maybe",
        }
    )
    assert out[EXTRA_FIELDS] == {"id": 2, "extra_fields": {"x": 1}, "locked": "maybe"}


def test_nul_in_keys_and_nested_values_is_replaced() -> None:
    plan = _conformer("messages")
    out = plan.conform(
        {"id": 1, "conversation": {"a\x00": ["x\x00"]}, "raw_error": {"e": "\x00"}, "zzz": "\x00"}
    )
    assert out["conversation"] == {"a\ufffd": ["x\ufffd"]}
    assert out["raw_error"] == {"e": "\ufffd"}
    assert out[EXTRA_FIELDS] == {"zzz": "\ufffd"}
    # An answer known to hold no U+0000 is not searched.
    assert _conformer("messages").conform({"id": 1, "text": "a\x00"}, clean=True)["text"] == "a\x00"


def test_a_non_nullable_field_that_does_not_fit_stops_the_record() -> None:
    fitter = compile_schema({"type": "integer"})
    assert not fitter.nullable
    plan = Conformer(
        stream="s",
        schema={"type": "object", "properties": {"n": {"type": "integer"}, "id": {}}},
        logger=LOGGER,
    )
    with pytest.raises(ConformanceError, match="`n` came as a string"):
        plan.conform({"id": 1, "n": "x"})


def test_a_schema_without_types_takes_anything() -> None:
    plan = Conformer(
        stream="s",
        schema={"type": "object", "properties": {"a": {}, "b": {"anyOf": []}}},
        logger=LOGGER,
    )
    record = {"a": [1, {"x": None}], "b": "y"}
    assert plan.conform(record) == {"a": [1, {"x": None}], "b": "y"}


def test_timestamps_are_normalised_to_one_form() -> None:
    plan = _conformer("surveys")
    out = plan.conform({"id": 1, "created": "2024-12-24T14:04:55Z", "updated": "bad"})
    assert out["created"] == "2024-12-24T14:04:55.000000+00:00"
    assert datetime.fromisoformat(out["created"]).tzinfo is not None
    assert out["updated"] is None and out[EXTRA_FIELDS] == {"updated": "bad"}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(json_values)
def test_nul_is_replaced_in_the_json_text_exactly_as_in_the_values(value: t.Any) -> None:
    """decode_json replaces `\\u0000` escapes in an answer's text before decoding
    (client.py `without_nul`): the same as replacing U+0000 in every decoded string and key,
    and a string holding the six characters backslash-u-0-0-0-0 is left as it is."""
    for nested in (value, {"k\x00\\u0000": [value, "\\\\u0000\x00"]}):
        raw = json.dumps(nested).encode()
        assert msgspec.json.decode(without_nul(raw)) == scrub_any(nested)
        # json_text steps from backslash to backslash (or, where they are dense, searches):
        # the same text, and "may hold U+0000" exactly when a string or key does.
        assert json_text(raw, True) == (without_nul(raw), False)
        assert json_text(raw, False) == (raw, scrub_any(nested) != nested)


@pytest.mark.parametrize("escapes", [0, 1, 3, 40, 4000])
def test_nul_escapes_are_found_however_dense_the_backslashes(escapes: int) -> None:
    """answers.json_text takes one of two ways by how dense the escapes are (one per 512
    bytes): both find every `\\u0000`, after any run of backslashes, and nothing else."""
    filler = "x" * 600
    texts = [filler + "\n" * escapes + "\\" * (escapes % 3) + "\x00" for _ in range(5)]
    texts += ["\\u0000", "\\" * 3 + "u0000\x00", filler]
    raw = json.dumps(texts).encode()
    assert json_text(raw, True) == (without_nul(raw), False)
    assert msgspec.json.decode(json_text(raw, True)[0]) == scrub_any(texts)
    assert json_text(raw, False) == (raw, True)
    assert json_text(json.dumps([texts[-3], texts[-1]]).encode(), False)[1] is False


def test_an_answer_s_text_is_searched_once_and_a_raw_nul_is_not_json() -> None:
    """answers.json_text: whether strings may still hold U+0000 comes from one search of
    the escape, because the decoder refuses a raw NUL byte (no search needed for it)."""
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(b'["a\x00b"]')
    assert json_text(b'["a"]', True) == (b'["a"]', False)
    assert json_text(b'["a\\u0000"]', False) == (b'["a\\u0000"]', True)
    assert json_text(b'["a\\u0000"]', True) == (b'["a\\ufffd"]', False)


@pytest.mark.parametrize("stream_name", STREAMS)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(data=st.data())
def test_a_compiled_fit_does_what_the_fitter_does(stream_name: str, data: st.DataObject) -> None:
    """fast_checks.py: the compiled function leaves, converts or refuses every field exactly
    as its fitter (same JSON, same types, or Unfit for both), and never changes the value it
    was given. Values are drawn as any JSON, as what the fitter makes of it (which mostly
    fits), and as that with digit-string ids, so the inline paths, the shapes a list loop
    remembers and the hand-overs to the fitter are all met; each is fitted twice."""
    plan = _conformer(stream_name, replace_nul=False)
    props = plan.schema["properties"]
    for key, fitter in plan.fitters.items():
        fit_all = compile_fit({key: props[key]}, {key: fitter})
        for _ in range(2):
            value = data.draw(shaped(props[key]) | json_values, label=key)
            if data.draw(st.booleans(), label=f"{key} fitted"):
                with contextlib.suppress(Unfit):
                    value = fitter.fit(copy.deepcopy(value), False)
            if data.draw(st.booleans(), label=f"{key} ids as text"):
                value = _ids_as_text(value)
            if type(value) in fitter.fast and type(value) is not int:
                continue  # fits by its type alone: the conformer asks neither
            sent = copy.deepcopy(value)
            record = {key: value}
            try:
                expected = fitter.fit(copy.deepcopy(value), False)
            except Unfit:
                with pytest.raises(Unfit):
                    fit_all(record)
            else:
                fit_all(record)
                assert msgspec.json.encode(record[key]) == msgspec.json.encode(expected), (
                    f"{stream_name}.{key}: {sent!r} became {record[key]!r}, the fitter's "
                    f"{expected!r}"
                )
                assert _typed(record[key]) == _typed(expected)
            assert msgspec.json.encode(value) == msgspec.json.encode(sent), "input changed"


#: The API's usual timestamp forms (re-cut inline by fast_checks.py), and texts of their
#: length and separators that are not one: an impossible date, a week date, a `,` fraction.
TIMESTAMP_FORMS = [
    "2026-05-31T21:54:13.204Z",
    "2026-05-31T21:54:13.204123Z",
    "2026-02-30T21:54:13.204Z",
    "2026-05-31T25:54:13.204123Z",
    "2026-W22-7T21:54:13.204Z",
    "2026-05-31T21:54:13,204Z",
    "2026-05-31 21:54:13.204Z",
    "2026-05-31T21:54:13.2+1Z",
    "2026-05-31T21:54:13.204+00:00",
]


def shaped(schema: t.Any, depth: int = 0) -> st.SearchStrategy[t.Any]:
    """Values near `schema`, mostly of its types: objects keyed by its properties, lists of
    its items, ints near the BIGINT limits, digit strings, and now and then any JSON."""
    if not isinstance(schema, dict) or depth > 3:
        return json_values
    kinds = schema.get("type") or []
    kinds = [kinds] if isinstance(kinds, str) else kinds
    options: list[st.SearchStrategy[t.Any]] = []
    if "null" in kinds:
        options.append(st.none())
    if "boolean" in kinds:
        options.append(st.booleans())
    if "string" in kinds:
        options.append(text)
        if schema.get("format") == "date-time":
            options.append(st.sampled_from(TIMESTAMP_FORMS))
    if "integer" in kinds or "number" in kinds:
        digits = st.integers(0, 99).map(str) | st.sampled_from(["007", "0", "\u0663", "\u00b2"])
        options += [st.integers(-(2**63) - 1, 2**63), st.integers(0, 99), digits]
    if "array" in kinds:
        options.append(st.lists(shaped(schema.get("items"), depth + 1), max_size=3))
    props = schema.get("properties")
    if "object" in kinds and isinstance(props, dict) and props:
        keys = st.lists(st.sampled_from(sorted(props)), unique=True, max_size=len(props))
        options.append(
            keys.flatmap(
                lambda keys: st.fixed_dictionaries({k: shaped(props[k], depth + 1) for k in keys})
            )
        )
    # Structure first (Hypothesis starts from the first branches); values unlike the
    # schema come from the caller's draw of any JSON.
    return st.one_of(list(reversed(options))) if options else json_values


def _ids_as_text(value: t.Any) -> t.Any:
    """`value` with every int inside it as its digits (the sandbox's `shapes` case)."""
    if type(value) is int and value >= 0:
        return str(value)
    if isinstance(value, list):
        return [_ids_as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _ids_as_text(v) for k, v in value.items()}
    return value


def _typed(value: t.Any) -> t.Any:
    """`value` with each scalar's Python type beside it (`1` and `True`, `1` and `1.0`)."""
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    return (type(value).__name__, value)


def test_compiled_fits_inline_the_json_columns() -> None:
    """The inline paths are in use where they pay (messages' JSON columns, contacts' lists
    of objects and `created`), and they convert what the fitter converts."""
    messages = TAP.streams["messages"].schema["properties"]
    keys = ("custom", "target_errors", "targets")
    fit_all = compile_fit({k: messages[k] for k in keys}, _conformer("messages").fitters)
    assert "_fit" in (fit_all.__doc__ or "") and "_special" not in (fit_all.__doc__ or "")
    record = {"custom": {"data": ["1"], "type": ""}, "target_errors": [], "targets": None}
    fit_all(record)
    assert record["custom"] == {"data": [1], "type": ""}
    contacts = TAP.streams["contacts"].schema["properties"]
    fitters = _conformer("contacts").fitters
    keys = ("note", "contact_channels", "created")
    fit_all = compile_fit({k: contacts[k] for k in keys}, fitters)
    source = fit_all.__doc__ or ""
    assert len(set(re.findall(r"_special\d+", source))) == 3, source
    assert "_fromiso(v)" in source  # `created` re-cut inline
    same = [{"id": 7, "contact_id": 8, "channel_type": "sms"}]
    for _ in range(3):  # (the second and third meet a shape the loop remembers)
        record = {
            "note": [{"id": "12", "user_id": 3}, None],
            "contact_channels": same,
            "created": "2024-12-24T03:58:12.946Z",
        }
        fit_all(record)
        assert record["note"] == [{"id": 12, "user_id": 3}, None]
        assert record["contact_channels"] is same
        assert record["created"] == "2024-12-24T03:58:12.946000+00:00"
    with pytest.raises(Unfit):
        fit_all({"note": [{"id": 2**63}], "contact_channels": same, "created": None})
    with pytest.raises(Unfit):  # a remembered shape, an int out of range
        fit_all(
            {
                "note": None,
                "contact_channels": [{"id": 2**63, "contact_id": 8, "channel_type": "sms"}],
                "created": None,
            }
        )


class _NoKeyed(dict[tuple[str, ...], t.Any]):
    """`Conformer._keyed` that never holds a function: the record goes to the plans."""

    def get(self, key: tuple[str, ...], default: t.Any = None) -> None:  # type: ignore[override]
        return None


def _near_schema(stream_name: str) -> st.SearchStrategy[dict]:
    """Records of the stream whose values are mostly of their columns' shapes (so that
    whole records fit and `Conformer._keyed` keeps them), now and then any JSON, now and
    then a field the schema does not list, with no U+0000 anywhere."""
    plan = TAP.streams[stream_name].conformer()
    props = plan.schema["properties"]
    fixed = {
        k: st.just(_valid_trusted(stream_name, k, props[k])) for k in plan.trusted if k in props
    }
    near = {k: (shaped(props[k]) | json_values).map(scrub_any) for k in props}
    optional = {
        k: near[k] | near[k].map(_ids_as_text)  # (digit-string ids, converted)
        for k in props
        if k not in plan.trusted and k != EXTRA_FIELDS
    }
    if not plan.has_extra:
        optional = {k: v.map(BUILT_BY_THE_STREAM[stream_name, k]) for k, v in optional.items()}
    elif stream_name == "messages":
        optional["not_in_schema"] = st.integers()
    return st.fixed_dictionaries(fixed, optional=optional)


@pytest.mark.parametrize("stream_name", STREAMS)
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(data=st.data())
def test_a_record_fitted_whole_is_what_the_plans_make_of_it(
    stream_name: str, data: st.DataObject
) -> None:
    """conformance.py: a record from an answer with no U+0000 is fitted by one function of
    its keys (`_keyed`); one that does not fit goes on to the plans. Either way the record
    is what the plans alone make of it, it validates, and a second record of the same keys
    (a compiled function met again) comes out the same way."""
    keyed = _conformer(stream_name, replace_nul=False)
    plans = _conformer(stream_name, replace_nul=False)
    plans._keyed = _NoKeyed()  # the plans alone
    for _ in range(2):
        record = data.draw(_near_schema(stream_name))
        sent = copy.deepcopy(record)
        expected = plans.conform(copy.deepcopy(record))
        out = keyed.conform(record, clean=True)
        assert msgspec.json.encode(out) == msgspec.json.encode(expected), sent
        assert _typed(out) == _typed(expected)
        assert not list(_validator(keyed.schema).iter_errors(out))


def test_keys_whose_records_keep_not_fitting_go_straight_to_the_plans() -> None:
    """After `_KEYED_MISSES` records of one set of keys that did not fit, that set skips the
    keyed function (which would only fit the record twice); the records stay right."""
    plan = _conformer("messages", replace_nul=False)
    keys = ("id", "date", "super", "updated")
    for n in range(40):
        record = {"id": n, "date": "2024-05-01T12:34:56.789000+00:00", "super": "maybe"}
        record["updated"] = record["date"]
        out = plan.conform(record, clean=True)
        assert out["super"] is None and out[EXTRA_FIELDS] == {"super": "maybe"}
    assert plan._keyed[keys] is None and plan._keyed_misses[keys] == 32
    assert plan.not_conformed["super"] == 40
    fits = {"id": 1, "date": "2024-05-01T12:34:56.789000+00:00", "super": 1}
    fits["updated"] = fits["date"]
    assert plan.conform(fits, clean=True)["super"] is True
