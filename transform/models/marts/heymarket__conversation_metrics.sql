-- One row per conversation that has messages: its first inbound message, the first response
-- (int_heymarket__first_responses), message and reply counts, and a resolution time where the
-- data allows: the API has no closed-at time, so a conversation whose `status` is `closed` is
-- taken as resolved when it was last updated (`updated`), if that is at or after its first
-- inbound message; open conversations have none (docs/analytics.md, "Resolution").
with counts as (
    select
        conversation_id,
        max(inbox_id) as inbox_id,
        count(*) as messages,
        sum(case when direction = 'inbound' then 1 else 0 end) as inbound_messages,
        sum(case when direction = 'outbound' then 1 else 0 end) as outbound_messages,
        sum(case when direction = 'outbound' and broadcast_id is null then 1 else 0 end)
            as replies
    from {{ ref('stg_heymarket__messages') }}
    where conversation_id is not null
    group by 1
)

select
    c.conversation_id,
    c.inbox_id,
    f.first_inbound_at,
    f.first_response_at,
    f.first_response_minutes,
    f.responding_user_id as user_id,
    c.messages,
    c.inbound_messages,
    c.outbound_messages,
    c.replies,
    v.status,
    case when v.status = 'closed' and v.updated_at >= f.first_inbound_at then v.updated_at end
        as resolved_at,
    case
        when v.status = 'closed' and v.updated_at >= f.first_inbound_at
            then {{ heymarket_minutes_between('f.first_inbound_at', 'v.updated_at') }}
    end as resolution_minutes
from counts as c
left join {{ ref('int_heymarket__first_responses') }} as f on f.conversation_id = c.conversation_id
left join {{ ref('stg_heymarket__conversations') }} as v on v.conversation_id = c.conversation_id
