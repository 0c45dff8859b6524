-- One row per conversation that has an inbound message: its first inbound message (by
-- `date`), then the first outbound message at or after it that is not part of a broadcast
-- (ties broken by message id), and who sent that response.
with inbound as (
    select conversation_id, min(sent_at) as first_inbound_at
    from {{ ref('stg_heymarket__messages') }}
    where direction = 'inbound' and conversation_id is not null
    group by 1
),

responses as (
    select
        m.conversation_id,
        m.sent_at,
        m.user_id,
        row_number() over (partition by m.conversation_id order by m.sent_at, m.message_id) as n
    from {{ ref('stg_heymarket__messages') }} as m
    inner join inbound as i on i.conversation_id = m.conversation_id
    where m.direction = 'outbound' and m.broadcast_id is null and m.sent_at >= i.first_inbound_at
)

select
    i.conversation_id,
    i.first_inbound_at,
    r.sent_at as first_response_at,
    r.user_id as responding_user_id,
    case
        when r.sent_at is not null
            then {{ heymarket_minutes_between('i.first_inbound_at', 'r.sent_at') }}
    end as first_response_minutes
from inbound as i
left join responses as r on r.conversation_id = i.conversation_id and r.n = 1
