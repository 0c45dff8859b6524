-- One row per broadcast and recipient (the contact's phone in the sending inbox): when it was
-- first sent to them, whether a message of it was delivered or failed, and whether they
-- answered (an inbound message from that phone to that inbox) within the response window,
-- with an opt-out keyword or not.
with sent as (
    select
        broadcast_id,
        contact_phone,
        inbox_id,
        min(sent_at) as sent_at,
        max(case when is_delivered then 1 else 0 end) as delivered,
        max(case when is_failed then 1 else 0 end) as failed
    from {{ ref('stg_heymarket__messages') }}
    where broadcast_id is not null and direction = 'outbound'
    group by 1, 2, 3
),

answers as (
    select contact_phone, inbox_id, sent_at, is_opt_out_keyword
    from {{ ref('stg_heymarket__messages') }}
    where direction = 'inbound'
)

select
    s.broadcast_id,
    s.contact_phone,
    s.inbox_id,
    s.sent_at,
    s.delivered = 1 as is_delivered,
    s.failed = 1 as is_failed,
    count(a.sent_at) > 0 as responded,
    coalesce(max(case when a.is_opt_out_keyword then 1 else 0 end), 0) = 1 as opted_out
from sent as s
left join answers as a
    on a.contact_phone = s.contact_phone
    and a.inbox_id = s.inbox_id
    and a.sent_at >= s.sent_at
    and a.sent_at <= {{ heymarket_add_hours('s.sent_at', var('heymarket_response_window_hours')) }}
group by 1, 2, 3, 4, 5, 6
