-- One row per message, with its direction, day/week/month, inbox, agent, broadcast and
-- delivery fields.
select
    m.message_id,
    m.sent_at,
    m.updated_at,
    cast(date_trunc('day', m.sent_at) as date) as sent_day,
    cast(date_trunc('week', m.sent_at) as date) as sent_week,
    cast(date_trunc('month', m.sent_at) as date) as sent_month,
    m.direction,
    m.message_type,
    m.status,
    m.is_delivered,
    m.is_failed,
    m.error,
    m.broadcast_id,
    m.broadcast_id is not null as is_broadcast,
    m.conversation_id,
    m.inbox_id,
    i.inbox_name,
    m.user_id,
    u.user_name,
    m.contact_phone,
    m.channel,
    m.is_opt_out_keyword,
    m.is_opt_in_keyword,
    m.text
from {{ ref('stg_heymarket__messages') }} as m
left join {{ ref('stg_heymarket__inboxes') }} as i on i.inbox_id = m.inbox_id
left join {{ ref('stg_heymarket__team_members') }} as u on u.user_id = m.user_id
