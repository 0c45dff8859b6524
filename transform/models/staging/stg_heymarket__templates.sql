select
    cast(id as bigint) as template_id,
    name as template_name,
    {{ heymarket_json_text('content', 'text') }} as template_text,
    {{ heymarket_real_id('creator_id') }} as creator_user_id,
    coalesce(shared, false) as is_shared,
    coalesce(archived, false) as is_archived,
    cast(created as timestamp) as created_at,
    cast(updated as timestamp) as updated_at
from {{ source('heymarket', 'templates') }}
