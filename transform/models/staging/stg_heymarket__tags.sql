select
    cast(id as bigint) as tag_id,
    tag as tag_name,
    color,
    cast(created as timestamp) as created_at,
    cast(updated as timestamp) as updated_at
from {{ source('heymarket', 'tags') }}
