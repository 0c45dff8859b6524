select
    cast(id as bigint) as survey_id,
    name as survey_name,
    type as survey_type,
    question,
    cast(created as timestamp) as created_at,
    cast(updated as timestamp) as updated_at
from {{ source('heymarket', 'surveys') }}
