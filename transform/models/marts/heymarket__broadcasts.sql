-- One row per broadcast: its messages, recipients, and how many were delivered, failed,
-- responded and opted out (responded and opted out within the response window of the send,
-- as Heymarket's broadcast report counts them), with rates.
with messages as (
    select
        broadcast_id,
        min(sent_at) as first_sent_at,
        max(user_id) as user_id,
        count(*) as messages,
        sum(case when is_delivered then 1 else 0 end) as delivered,
        sum(case when is_failed then 1 else 0 end) as failed
    from {{ ref('stg_heymarket__messages') }}
    where broadcast_id is not null and direction = 'outbound'
    group by 1
),

recipients as (
    select
        broadcast_id,
        count(*) as recipients,
        sum(case when responded then 1 else 0 end) as responded,
        sum(case when opted_out then 1 else 0 end) as opted_out
    from {{ ref('int_heymarket__broadcast_recipients') }}
    group by 1
)

select
    m.broadcast_id,
    m.first_sent_at,
    m.user_id,
    m.messages,
    r.recipients,
    m.delivered,
    m.failed,
    r.responded,
    r.opted_out,
    {{ heymarket_ratio('m.delivered', 'm.messages') }} as delivered_rate,
    {{ heymarket_ratio('m.failed', 'm.messages') }} as failed_rate,
    {{ heymarket_ratio('r.responded', 'r.recipients') }} as responded_rate,
    {{ heymarket_ratio('r.opted_out', 'r.recipients') }} as opted_out_rate
from messages as m
inner join recipients as r on r.broadcast_id = m.broadcast_id
