select
    cast(id as bigint) as user_id,
    name as user_name,
    role
from {{ source('heymarket', 'team_members') }}
