-- Per day and agent (the `user` of outbound messages): messages out, failures, the
-- conversations they gave the first response to that day, and the median and 90th
-- percentile of those first responses.
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
)

select
    m.day,
    m.user_id,
    u.user_name,
    m.messages_out,
    m.failures,
    coalesce(r.first_responses, 0) as first_responses,
    r.median_first_response_minutes,
    r.p90_first_response_minutes
from messages as m
left join responses as r on r.day = m.day and r.user_id = m.user_id
left join {{ ref('stg_heymarket__team_members') }} as u on u.user_id = m.user_id
