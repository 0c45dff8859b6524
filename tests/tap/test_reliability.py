"""A sync survives faults, rate limits and kills with nothing lost, checked against the truth.

Figures proved here are quoted in docs/reliability.md, "Reliability".
"""

from __future__ import annotations

import json
import math
import random
from datetime import datetime
from typing import Any

import pytest

from heymarket_sandbox import Sandbox
from tap_heymarket import timestamps
from tests.support.singer_check import check_messages
from tests.support.tap_runner import (
    KILL_WARNINGS,
    STREAMS,
    TapRun,
    assert_streams_match_truth,
    at_record,
    run_tap,
    run_until_killed,
    sandbox_config,
    stream_truth,
    truth_ids,
)


def test_flaky_api_loses_nothing() -> None:
    """20,000 contacts and every other stream; 10% 5xx, 3% truncated 200s, 3% dropped."""
    with Sandbox(
        contacts=20_000, seed=31, fault_5xx=0.10, fault_truncate=0.03, fault_drop=0.03, fault_seed=7
    ) as sb:
        run = run_tap(sandbox_config(sb.url, page_size=200), timeout=900)
        stats = sb.stats()
        truth = sb.truth()
    assert run.returncode == 0, run.stderr[-3000:]
    retried = run.stderr.count("retrying in")
    assert retried >= 10, "the fault rates should have forced retries"
    assert_streams_match_truth({s: run.revs(s) for s in STREAMS}, truth)
    for stream in STREAMS:
        assert run.duplicates(stream) == {}, stream
    check_messages(run.messages, sample_every=50)
    print(f"flaky: {retried} retries, statuses={stats['by_status']}, records={len(run.ids())}")


def test_pacing_keeps_under_the_limit_with_zero_429() -> None:
    """The sandbox allows 50 requests per 6 s: Heymarket's 500/min on a 10x shorter window.

    The tap keeps its default pace (480/min). 90+ requests need more than 1.5 windows of
    quota, and the token bucket gives no slack beyond a burst of 5.
    """
    with Sandbox(contacts=2_500, seed=5, rate_limit=50, rate_window=6) as sb:
        config = sandbox_config(sb.url, page_size=30)
        del config["max_requests_per_minute"]  # the default pace
        run = run_tap(config)
        stats = sb.stats()
        truth = truth_ids(sb.truth())
    assert run.returncode == 0, run.stderr[-2000:]
    requests_made = stats["requests"]
    assert requests_made > 90
    assert stats["by_status"].get("429", 0) == 0
    assert stats["peak_rate"] <= 50
    assert set(run.ids()) == truth
    print(f"pacing: {requests_made} requests, peak {stats['peak_rate']} per 6 s window, 0 x 429")


@pytest.mark.parametrize("retry_after", ["auto", None], ids=["with-retry-after", "without"])
def test_rides_out_429_storms(retry_after: str | None) -> None:
    """The sandbox allows less than half the tap's pace: 429s come in storms, nothing is lost."""
    switches = {"rate_limit": 20, "rate_window": 6}
    if retry_after:
        switches["retry_after"] = retry_after
    with Sandbox(contacts=900, seed=6, **switches) as sb:
        config = sandbox_config(sb.url, page_size=30)
        config["max_requests_per_minute"] = 480
        run = run_tap(config)
        stats = sb.stats()
        truth = truth_ids(sb.truth())
    assert run.returncode == 0, run.stderr[-2000:]
    assert stats["by_status"].get("429", 0) > 0, "the limit should have been hit"
    assert set(run.ids()) == truth
    # One WARNING at the end says what the 429s cost and which setting to lower (pacing.py).
    (summary,) = [line for line in run.stderr.splitlines() if "answered HTTP 429" in line]
    assert "WARNING" in summary
    throttled, total = stats["by_status"]["429"], stats["requests"]
    assert f"to {throttled:,} of {total:,} requests" in summary, (summary, stats)
    assert "(max_requests_per_minute is 480)" in summary
    assert "set max_requests_per_minute to" in summary
    print(
        f"429 storm ({retry_after}): {stats['by_status'].get('429', 0)} x 429, "
        f"{stats['requests']} requests"
    )


# -- kill and resume ------------------------------------------------------------------


@KILL_WARNINGS[0]
@KILL_WARNINGS[1]
def test_kill_and_resume_twenty_trials() -> None:
    """Every stream, killed at random points; each trial's runs together hold the truth."""
    rng = random.Random(2026)
    kills = 0
    runs_total = 0
    with Sandbox(contacts=4_000, seed=41, max_limit=100, page="zero", latency_ms=40) as sb:
        config = sandbox_config(sb.url, page_size=150)
        baseline = run_tap(config)
        assert baseline.returncode == 0
        complete_state = baseline.final_state
        for trial in range(20):
            incremental = trial % 2 == 1
            state: dict | None = None
            # Incremental streams re-read only what changed; full-table ones everything.
            expected = {s: set(stream_truth(sb.truth(), s)) for s in STREAMS}
            if incremental:
                changed = sb.mutate(n=40, new=10, templates=3)
                expected["contacts"] = set(changed["updated_ids"]) | set(changed["created_ids"])
                expected["templates"] = set(changed["template_ids"])
                expected["tags"] = set()
                state = json.loads(json.dumps(complete_state))
            seen: dict[str, dict[int, object]] = {s: {} for s in STREAMS}
            for attempt in range(30):
                runs_total += 1
                # Killed at a random one of the records still owed (the run must write
                # them all), so the kill comes mid-run however fast the machine is.
                owed = sum(len(expected[s] - set(seen[s])) for s in STREAMS)
                kill = at_record(rng.randint(1, owed)) if attempt < 4 and owed else None
                killed = run_until_killed(config, state=state, kill_on_line=kill)
                messages, returncode = killed.messages, killed.returncode
                for m in messages:
                    if m["type"] == "RECORD" and m["stream"] in seen:
                        seen[m["stream"]][m["record"]["id"]] = m["record"].get("rev")
                states = [m["value"] for m in messages if m["type"] == "STATE"]
                if states:
                    state = states[-1]
                if returncode == 0:
                    break
                kills += 1
            else:
                pytest.fail("the sync never completed")
            assert returncode == 0
            truth = sb.truth()
            for stream in STREAMS:
                lost = expected[stream] - set(seen[stream])
                assert not lost, f"trial {trial}: {stream} lost {len(lost)}"
                revs = stream_truth(truth, stream)
                for record_id in expected[stream]:
                    assert seen[stream][record_id] == revs[record_id], (stream, record_id)
            complete_state = state
    assert kills >= 20, "most trials should have been interrupted at least once"
    print(f"kill/resume: 20 trials, {kills} kills, {runs_total} runs, 0 lost")


@KILL_WARNINGS[0]
@KILL_WARNINGS[1]
def test_resume_does_not_start_over() -> None:
    """After a kill, the next run continues below the saved cursor instead of from the top.

    The kill comes on an output line (the 10th STATE of the contacts walk, about 1,000 of
    6,000 contacts in), never at a wall-clock instant, so a slow machine kills as late."""
    walk_states = 0

    def tenth_walk_state(line: bytes) -> bool:
        nonlocal walk_states
        if line.startswith(b'{"type":"STATE"') and b'"walk"' in line:
            walk_states += 1
        return walk_states >= 10

    with Sandbox(contacts=6_000, seed=43) as sb:
        config = sandbox_config(sb.url, page_size=100)
        killed = run_until_killed(config, kill_on_line=tenth_walk_state)
        messages, rc = killed.messages, killed.returncode
        assert rc != 0, "the run should have been killed"
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        walk = states[-1]["bookmarks"]["contacts"]["walk"]
        first_part = {
            m["record"]["id"]
            for m in messages
            if m["type"] == "RECORD" and m["stream"] == "contacts"
        }
        sb.reset_stats()
        resumed = run_tap(config, state=states[-1])
        assert resumed.returncode == 0
        requests_resumed = sb.stats()["by_path"]["/v1/contacts"]
        truth = truth_ids(sb.truth())
    assert walk["cursor"]
    again = set(resumed.ids()) & first_part
    assert len(again) <= 100 + 300, "at most one page and one tie group are read again"
    assert first_part | set(resumed.ids()) == truth
    assert sum(requests_resumed.values()) < math.ceil(6_000 / 100)


#: Streams walked newest first by `updated`, with their walk's progress in STATE.
WALKED = ("contacts", "tags")


def _claimed_too_early(messages: list[dict[str, Any]], stream: str) -> list[str]:
    """Records of `stream` written after a STATE that already counted them as done.

    A walk goes down in `updated`. Its STATE says: every record above `walk.cursor` was
    written (`kind` "lt": those at the cursor too); with no walk and a bookmark, the walk
    is over and every record was written. A record of the run written after such a STATE
    is one a kill right after that STATE would lose."""
    claim: tuple[datetime, str] | None = None
    done = False
    wrong = []
    for n, message in enumerate(messages):
        if message["type"] == "STATE":
            entry = message["value"].get("bookmarks", {}).get(stream, {})
            if "walk" in entry:
                claim = (timestamps.parse(entry["walk"]["cursor"]), entry["walk"]["kind"])
            elif entry.get("replication_key_value"):
                done = True
        elif message["type"] == "RECORD" and message["stream"] == stream:
            updated = timestamps.parse(message["record"]["updated"])
            if done:
                wrong.append(f"message {n}: {stream} record after its walk's final STATE")
            elif claim is not None and (
                updated > claim[0] or (claim[1] == "lt" and updated == claim[0])
            ):
                wrong.append(
                    f"message {n}: {stream} updated {updated} after a STATE at cursor "
                    f"{claim[0]} ({claim[1]}) that counts it as written"
                )
    return wrong


def test_every_state_comes_after_the_records_it_counts_as_done() -> None:
    """Deterministic, no wall clock: kill the run, in effect, right after each of its
    STATE messages. Each STATE must follow every record it counts as written, and the
    records written before it plus a run resumed from it must be the whole truth.

    Whole seconds, a clamped page and 0-based `page`: big tie groups, read by offset, so
    STATEs are also written mid-group and right after a group completes."""
    with Sandbox(contacts=3000, seed=17, precision="seconds", max_limit=100, page="zero") as sb:
        config = sandbox_config(sb.url, page_size=150)
        full = run_tap(config)
        assert full.returncode == 0, full.stderr[-2000:]
        truth = sb.truth()
        messages = full.messages
        for stream in WALKED:
            assert not _claimed_too_early(messages, stream)[:5], stream
        # Virtual kills: at a few STATEs of each walk (first, inside, last).
        kill_at: set[int] = set()
        for stream in WALKED:
            walks = [
                n
                for n, m in enumerate(messages)
                if m["type"] == "STATE" and "walk" in m["value"]["bookmarks"].get(stream, {})
            ]
            assert len(walks) >= (10 if stream == "contacts" else 2), stream
            kill_at |= {walks[0], walks[len(walks) // 3], walks[2 * len(walks) // 3], walks[-1]}
        for n in sorted(kill_at):
            before = TapRun(0, "", "", messages[:n])
            resumed = run_tap(config, state=messages[n]["value"])
            assert resumed.returncode == 0, resumed.stderr[-2000:]
            for stream in WALKED:
                seen = {**before.revs(stream), **resumed.revs(stream)}
                assert seen == stream_truth(truth, stream), f"killed after message {n}: {stream}"


def test_truncated_bodies_are_retried_behind_a_path_prefix() -> None:
    """`api_url` may carry a path (a gateway); decoding checks still apply, so retries too."""
    with Sandbox(contacts=2000, seed=3, path_prefix="/hm", fault_truncate=0.2, fault_seed=4) as sb:
        run = run_tap(sandbox_config(sb.url + "/hm", page_size=100))
        truth = truth_ids(sb.truth())
    assert run.returncode == 0, run.stderr[-2000:]
    assert "not JSON" in run.stderr and "retrying" in run.stderr
    assert set(run.ids()) == truth


def _walk_states(run) -> list[dict]:
    return [s for s in run.states if "walk" in s.get("bookmarks", {}).get("contacts", {})]


def test_resume_near_the_end_raises_no_false_alarm() -> None:
    with Sandbox(contacts=1000, seed=5) as sb:
        config = sandbox_config(sb.url, page_size=100)
        full = run_tap(config)
        last_walk = _walk_states(full)[-1]
        resumed = run_tap(config, state=last_walk)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "WARNING" not in resumed.stderr
    assert resumed.bookmark() == full.bookmark()


def test_loss_found_before_a_kill_is_still_reported_after_it() -> None:
    """The API ignores `page` and clamps `limit`: the loss is reported by the resumed run."""
    with Sandbox(contacts=1500, seed=11, max_limit=100, page="ignore") as sb:
        config = sandbox_config(sb.url, page_size=150)
        full = run_tap(config)
        groups = full.metric("tie_groups_incomplete")["value"]
        after_losses = [
            s
            for s in _walk_states(full)
            if len(s["bookmarks"]["contacts"]["walk"]["learned"]["incomplete_groups"]) == groups
        ]
        resumed = run_tap(config, state=after_losses[0])
    assert groups >= 1
    assert resumed.returncode == 0
    assert "could not be read in full" in resumed.stderr
    assert resumed.metric("tie_groups_incomplete")["value"] == groups
