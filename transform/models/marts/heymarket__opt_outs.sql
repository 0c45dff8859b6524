-- Each opt-out, of one of two kinds (`opt_out_kind`):
-- * `keyword`: an inbound message whose text is an opt-out keyword (STOP, UNSUBSCRIBE, ...,
--   case-insensitive, surrounding spaces ignored), attributed to the latest broadcast sent to
--   that phone from that inbox within the response window before it;
-- * `status`: a contact whose status (contact_status, when its table exists) is an opt-out
--   status (the var heymarket_opt_out_statuses), dated when that status was read, attributed
--   to the latest broadcast sent to the contact's phone, from any inbox (a status belongs to
--   no inbox), within the response window before it; its inbox is that broadcast's.
-- The attributed broadcast is null when there is none.
with keyword_opt_outs as (
    select message_id, contact_phone, inbox_id, sent_at, upper(trim(text)) as keyword
    from {{ ref('stg_heymarket__messages') }}
    where direction = 'inbound' and is_opt_out_keyword
),

status_opt_outs as (
    select contact_id, contact_phone, opted_out_at, opt_out_status
    from {{ ref('int_heymarket__status_opt_outs') }}
),

keyword_candidates as (
    select
        o.message_id,
        r.broadcast_id,
        row_number() over (
            partition by o.message_id order by r.sent_at desc, r.broadcast_id desc
        ) as n
    from keyword_opt_outs as o
    inner join {{ ref('int_heymarket__broadcast_recipients') }} as r
        on r.contact_phone = o.contact_phone
        and r.inbox_id = o.inbox_id
        and r.sent_at <= o.sent_at
        and o.sent_at <= {{ heymarket_add_hours('r.sent_at', var('heymarket_response_window_hours')) }}
),

status_candidates as (
    select
        o.contact_id,
        r.broadcast_id,
        r.inbox_id,
        row_number() over (
            partition by o.contact_id order by r.sent_at desc, r.broadcast_id desc, r.inbox_id desc
        ) as n
    from status_opt_outs as o
    inner join {{ ref('int_heymarket__broadcast_recipients') }} as r
        on r.contact_phone = o.contact_phone
        and r.sent_at <= o.opted_out_at
        and o.opted_out_at <= {{ heymarket_add_hours('r.sent_at', var('heymarket_response_window_hours')) }}
)

select
    'keyword' as opt_out_kind,
    o.message_id as opt_out_message_id,
    cast(null as bigint) as contact_id,
    o.contact_phone,
    o.inbox_id,
    o.sent_at as opted_out_at,
    o.keyword,
    cast(null as varchar) as opt_out_status,
    c.broadcast_id as attributed_broadcast_id
from keyword_opt_outs as o
left join keyword_candidates as c on c.message_id = o.message_id and c.n = 1

union all

select
    'status' as opt_out_kind,
    cast(null as bigint) as opt_out_message_id,
    o.contact_id,
    o.contact_phone,
    c.inbox_id,
    o.opted_out_at,
    cast(null as varchar) as keyword,
    o.opt_out_status,
    c.broadcast_id as attributed_broadcast_id
from status_opt_outs as o
left join status_candidates as c on c.contact_id = o.contact_id and c.n = 1
