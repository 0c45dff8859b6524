-- Failed outbound messages by day, inbox, status and carrier error: how many, and their
-- share of that day's outbound messages in that inbox.
with outbound as (
    select * from {{ ref('stg_heymarket__messages') }} where direction = 'outbound'
),

totals as (
    select cast(date_trunc('day', sent_at) as date) as day, inbox_id, count(*) as outbound_messages
    from outbound
    group by 1, 2
)

select
    cast(date_trunc('day', o.sent_at) as date) as day,
    o.inbox_id,
    o.status,
    o.error,
    count(*) as failures,
    max(t.outbound_messages) as outbound_messages,
    {{ heymarket_ratio('count(*)', 'max(t.outbound_messages)') }} as failure_rate
from outbound as o
inner join totals as t
    on t.day = cast(date_trunc('day', o.sent_at) as date)
    and t.inbox_id is not distinct from o.inbox_id
where o.is_failed
group by 1, 2, 3, 4
