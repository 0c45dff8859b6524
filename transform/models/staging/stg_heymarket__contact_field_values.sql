-- One row per contact and custom field holding a value (a cleared value is a null row).
select
    cast(v.contact_id as bigint) as contact_id,
    cast(v.field_id as varchar) as field_id,
    f.title as field_title,
    v.value
from {{ source('heymarket', 'contact_field_values') }} as v
left join {{ source('heymarket', 'contact_fields') }} as f
    on cast(f.id as varchar) = cast(v.field_id as varchar)
where v.value is not null
