-- One row per conversation. `status` closed and the time it was last updated are what the
-- API says of a resolution: there is no closed-at field.
select
    cast(id as bigint) as conversation_id,
    {{ heymarket_real_id('inbox_id') }} as inbox_id,
    inbox_name,
    {{ heymarket_real_id('assigned_id') }} as assigned_user_id,
    nullif(target, '') as contact_phone,
    lower(status) as status,
    channel,
    cast(created as timestamp) as created_at,
    cast(updated as timestamp) as updated_at
from {{ source('heymarket', 'conversations') }}
