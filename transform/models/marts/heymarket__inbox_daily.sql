-- Per day and inbox: messages in and out, failures, conversations started (their first
-- inbound message that day), and the median and 90th percentile of their first response.
with messages as (
    select
        cast(date_trunc('day', sent_at) as date) as day,
        inbox_id,
        sum(case when direction = 'inbound' then 1 else 0 end) as messages_in,
        sum(case when direction = 'outbound' then 1 else 0 end) as messages_out,
        sum(case when direction = 'outbound' and is_failed then 1 else 0 end) as failures
    from {{ ref('stg_heymarket__messages') }}
    group by 1, 2
),

started as (
    select
        cast(date_trunc('day', first_inbound_at) as date) as day,
        inbox_id,
        count(*) as conversations_started,
        {{ heymarket_percentile('first_response_minutes', 0.5) }} as median_first_response_minutes,
        {{ heymarket_percentile('first_response_minutes', 0.9) }} as p90_first_response_minutes
    from {{ ref('heymarket__conversation_metrics') }}
    where first_inbound_at is not null
    group by 1, 2
)

select
    m.day,
    m.inbox_id,
    m.messages_in,
    m.messages_out,
    m.failures,
    coalesce(s.conversations_started, 0) as conversations_started,
    s.median_first_response_minutes,
    s.p90_first_response_minutes
from messages as m
left join started as s on s.day = m.day and s.inbox_id is not distinct from m.inbox_id
