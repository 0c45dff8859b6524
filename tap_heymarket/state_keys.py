"""Every key the tap writes in STATE, and the layout of the whole STATE.

The SDK keeps one entry per stream under `bookmarks` (`state.bookmarks.<stream>`). The
tap never writes STATE in the SDK's per-record rhythm: every walk writes its entry after
each answer whose records were emitted (`HeymarketStream.write_state_now`, client.py), so
a run killed at any point resumes from its last STATE and loses nothing. Each entry holds:

`contacts`, `tags`, `templates` (a walk by `updated`, newest first: bookmark.py)
    * `replication_key_value` (BOOKMARK_KEY): the newest `updated` emitted by the last
      completed walk; the next run reads down to it (or to `start_date`, if later).
    * `replication_key`: the SDK's own, beside it.
    * `revs_at_bookmark` (REVS_KEY): `[[id, rev], ...]` of the records emitted at exactly
      the bookmark, so the next run skips them while their rev is unchanged.
    * `walk` (WALK_KEY): the unfinished walk's position (floor, top, cursor, cursor kind,
      what the walker learned of the server), present only between an answer and the
      walk's end; a killed run resumes below its cursor.
    * `sweep` (SWEEP_KEY): an unfinished `detect_deletes` sweep (sweep.py: version,
      round, floors, the records it emitted near its floors, the round's walk).
    * `last_sweep` (LAST_SWEEP_KEY): the last finished sweep (version, times, whether it
      was activated), so the next sweep's version is above it.
    * contacts only: `selected_at_bookmark` (SELECTED_KEY), the streams of contacts and
      its children selected when the bookmark was written: a newly selected child makes
      the next run read every contact (contact_feed.py).

`contact_field_values`
    * `field_keys` (FIELD_KEYS_KEY): every custom-field key it has emitted a value for,
      so a cleared value reaches the warehouse as a null row. Its rows follow the contacts
      walk, which owns the bookmark; `contact_status` keeps nothing of its own.

`conversations` (conversation_streams.py)
    * `walks` (WALKS_KEY): one entry per inbox and status, keyed `"<inbox id>/open"` or
      `"<inbox id>/closed"` (WALK_NAME), each exactly what the contacts entry holds for
      its one walk (bookmark, revs, walk).

`messages` (message_bookmark.py)
    * `replication_key_value`: the newest `updated` read by the last completed walk;
    * `created_bookmark` (CREATED_KEY): the newest `date` read by it (the floor of a walk
      by creation time, minus `messages_lookback_hours`);
    * `strategy` (STRATEGY_KEY): what the last probe learned and the walk it chose;
    * `message_walk` (MESSAGE_WALK_KEY): the unfinished walk (strategy, floor, engine
      position), resumed when the next probe chooses the same strategy.

One rule moves every bookmark: only when a walk completes, to the newest value that
walk read (bookmark.record_page, message_bookmark.record_page). Every `--state` file is
checked against this layout before any request (state.py).
"""

from __future__ import annotations

import re

#: The newest `updated` of the last completed walk (the SDK's bookmark key).
BOOKMARK_KEY = "replication_key_value"
#: The resumable walk inside a walk's entry.
WALK_KEY = "walk"
#: `[[id, rev], ...]` of the records emitted at exactly the bookmark.
REVS_KEY = "revs_at_bookmark"
#: An unfinished delete sweep.
SWEEP_KEY = "sweep"
#: The last finished delete sweep (its version, times, outcome).
LAST_SWEEP_KEY = "last_sweep"
#: contacts: the streams selected when the bookmark and the walk were written.
SELECTED_KEY = "selected_at_bookmark"
#: contact_field_values: every key it has emitted a value for.
FIELD_KEYS_KEY = "field_keys"
#: conversations: the per-walk entries.
WALKS_KEY = "walks"
#: conversations: the key of one walk's entry.
WALK_NAME = re.compile(r"(\d+)/(open|closed)")
#: messages: the unfinished walk.
MESSAGE_WALK_KEY = "message_walk"
#: messages: the newest `date` of the last completed walk.
CREATED_KEY = "created_bookmark"
#: messages: the last probe's findings and the strategy it chose.
STRATEGY_KEY = "strategy"
