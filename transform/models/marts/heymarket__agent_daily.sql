-- Per day and agent: messages out and failures (outbound messages whose `user` is the
-- agent); the conversations they gave the first response to that day, with the median and
-- 90th percentile of those first responses; and, since an inbound message names no agent,
-- messages in and conversations started attributed to the agent who gave the
-- conversation its first response (docs/analytics.md, "Per agent").
with messages as (
    select
        cast(date_trunc('day', sent_at) as date) as day,
        user_id,
        count(*) as messages_out,
        sum(case when is_failed then 1 else 0 end) as failures
    from {{ ref('stg_heymarket__messages') }}
    where direction = 'outbound' and user_id is not null
    group by 1, 2
),

inbound as (
    select
        cast(date_trunc('day', m.sent_at) as date) as day,
        f.responding_user_id as user_id,
        count(*) as messages_in
    from {{ ref('stg_heymarket__messages') }} as m
    inner join {{ ref('int_heymarket__first_responses') }} as f
        on f.conversation_id = m.conversation_id
    where m.direction = 'inbound' and f.responding_user_id is not null
    group by 1, 2
),

started as (
    select
        cast(date_trunc('day', first_inbound_at) as date) as day,
        responding_user_id as user_id,
        count(*) as conversations_started
    from {{ ref('int_heymarket__first_responses') }}
    where responding_user_id is not null
    group by 1, 2
),

responses as (
    select
        cast(date_trunc('day', first_response_at) as date) as day,
        user_id,
        count(*) as first_responses,
        {{ heymarket_percentile('first_response_minutes', 0.5) }} as median_first_response_minutes,
        {{ heymarket_percentile('first_response_minutes', 0.9) }} as p90_first_response_minutes
    from {{ ref('heymarket__conversation_metrics') }}
    where first_response_at is not null and user_id is not null
    group by 1, 2
),

days as (
    select day, user_id from messages
    union
    select day, user_id from inbound
    union
    select day, user_id from started
    union
    select day, user_id from responses
)

select
    d.day,
    d.user_id,
    u.user_name,
    coalesce(i.messages_in, 0) as messages_in,
    coalesce(m.messages_out, 0) as messages_out,
    coalesce(s.conversations_started, 0) as conversations_started,
    coalesce(m.failures, 0) as failures,
    coalesce(r.first_responses, 0) as first_responses,
    r.median_first_response_minutes,
    r.p90_first_response_minutes
from days as d
left join messages as m on m.day = d.day and m.user_id = d.user_id
left join inbound as i on i.day = d.day and i.user_id = d.user_id
left join started as s on s.day = d.day and s.user_id = d.user_id
left join responses as r on r.day = d.day and r.user_id = d.user_id
left join {{ ref('stg_heymarket__team_members') }} as u on u.user_id = d.user_id
