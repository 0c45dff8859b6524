-- One row per contact whose status (the contact_status stream) is an opt-out status: one of
-- the boolean columns listed in the var `heymarket_opt_out_statuses` (default
-- `unsubscribed`) is true. The stream keeps each contact's latest status (one row per
-- contact), so this is the contact's current opt-out, dated when its status was read:
-- `contact_updated`, the contact's `updated` then (the API gives no time of the change).
-- contact_status costs one request per contact and is off by default: when its table is not
-- in the raw schema, this model is empty, with the same columns, and the build still works.
{%- set statuses = var('heymarket_opt_out_statuses') %}
{%- set raw = source('heymarket', 'contacts') %}
{%- set status_table = adapter.get_relation(database=raw.database, schema=raw.schema, identifier='contact_status') if execute else none %}
{%- if status_table is not none and statuses | length > 0 %}
select
    cast(id as bigint) as contact_id,
    nullif(phone, '') as contact_phone,
    cast(contact_updated as timestamp) as opted_out_at,
    case
        {%- for status in statuses %}
        when coalesce(cast({{ adapter.quote(status) }} as boolean), false) then '{{ status }}'
        {%- endfor %}
    end as opt_out_status
from {{ status_table }}
where
    {%- for status in statuses %}
    {% if not loop.first %}or {% endif %}coalesce(cast({{ adapter.quote(status) }} as boolean), false)
    {%- endfor %}
{%- else %}
select
    cast(null as bigint) as contact_id,
    cast(null as varchar) as contact_phone,
    cast(null as timestamp) as opted_out_at,
    cast(null as varchar) as opt_out_status
where 1 = 0
{%- endif %}
