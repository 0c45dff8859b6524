-- Each opt-out: an inbound message whose text is an opt-out keyword (STOP, UNSUBSCRIBE, ...,
-- case-insensitive, surrounding spaces ignored), attributed to the latest broadcast sent to
-- that phone from that inbox within the response window before it (null if none).
-- Status changes (contact_status's `unsubscribed`) are not read here: that stream costs one
-- request per contact and is off by default.
with opt_outs as (
    select message_id, contact_phone, inbox_id, sent_at, upper(trim(text)) as keyword
    from {{ ref('stg_heymarket__messages') }}
    where direction = 'inbound' and is_opt_out_keyword
),

candidates as (
    select
        o.message_id,
        r.broadcast_id,
        row_number() over (
            partition by o.message_id order by r.sent_at desc, r.broadcast_id desc
        ) as n
    from opt_outs as o
    inner join {{ ref('int_heymarket__broadcast_recipients') }} as r
        on r.contact_phone = o.contact_phone
        and r.inbox_id = o.inbox_id
        and r.sent_at <= o.sent_at
        and o.sent_at <= {{ heymarket_add_hours('r.sent_at', var('heymarket_response_window_hours')) }}
)

select
    o.message_id as opt_out_message_id,
    o.contact_phone,
    o.inbox_id,
    o.sent_at as opted_out_at,
    o.keyword,
    c.broadcast_id as attributed_broadcast_id
from opt_outs as o
left join candidates as c on c.message_id = o.message_id and c.n = 1
