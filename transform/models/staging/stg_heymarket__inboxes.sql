select
    cast(id as bigint) as inbox_id,
    name as inbox_name,
    nullif(phone, '') as inbox_phone
from {{ source('heymarket', 'inboxes') }}
