select
    cast(id as varchar) as field_id,
    title as field_title
from {{ source('heymarket', 'contact_fields') }}
