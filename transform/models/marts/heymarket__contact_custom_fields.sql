-- One row per contact, one column per custom field listed in the var
-- `heymarket_custom_fields` (contact_fields titles), named after the field title (lower
-- case, spaces as `_`): the contact's value, null where it holds none or an empty one
-- (target-duckdb cannot load "" apart from null, so both warehouses say null).
{%- set fields = var('heymarket_custom_fields') %}
select
    c.contact_id
    {%- for title in fields %},
    max(case when v.field_title = '{{ title }}' then nullif(v.value, '') end) as {{ adapter.quote(title | lower | replace(' ', '_')) }}
    {%- endfor %}
from {{ ref('stg_heymarket__contacts') }} as c
left join {{ ref('stg_heymarket__contact_field_values') }} as v on v.contact_id = c.contact_id
group by 1
