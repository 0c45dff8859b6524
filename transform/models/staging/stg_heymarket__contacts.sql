-- One row per contact.
select
    cast(id as bigint) as contact_id,
    nullif(phone, '') as phone,
    nullif(email, '') as email,
    display_name,
    {{ heymarket_real_id('inbox_id') }} as inbox_id,
    {{ heymarket_real_id('assigned_user_id') }} as assigned_user_id,
    coalesce(is_opted_out, false) as is_opted_out,
    cast(created as timestamp) as created_at,
    cast(updated as timestamp) as updated_at
from {{ source('heymarket', 'contacts') }}
