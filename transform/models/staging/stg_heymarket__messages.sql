-- One row per message, typed and named for analysis (an empty text is null). Direction comes from `type` only (a
-- note is neither), never from whether `user` is set; ids the API left unset (null, 0, "")
-- are null; delivered and failed follow the carrier status sets of dbt_project.yml's vars.
select
    cast(id as bigint) as message_id,
    cast("date" as timestamp) as sent_at,
    cast(updated as timestamp) as updated_at,
    lower(type) as message_type,
    case
        when {{ heymarket_in_list('lower(type)', var('heymarket_inbound_types')) }} then 'inbound'
        when {{ heymarket_in_list('lower(type)', var('heymarket_outbound_types')) }} then 'outbound'
    end as direction,
    lower(status) as status,
    {{ heymarket_in_list('lower(status)', var('heymarket_delivered_statuses')) }} as is_delivered,
    {{ heymarket_in_list('lower(status)', var('heymarket_failed_statuses')) }} as is_failed,
    {{ heymarket_real_id('broadcast_id') }} as broadcast_id,
    {{ heymarket_real_id('"user"') }} as user_id,
    {{ heymarket_real_id(heymarket_json_text('conversation', 'id')) }} as conversation_id,
    {{ heymarket_real_id(heymarket_json_text('conversation', 'inbox')) }} as inbox_id,
    nullif(target, '') as contact_phone,
    nullif(phone, '') as inbox_phone,
    channel,
    -- target-duckdb loads "" as NULL (its CSV load), target-postgres keeps it: one form here.
    nullif(text, '') as text,
    coalesce({{ heymarket_is_keyword('text', var('heymarket_opt_out_keywords')) }}, false)
        as is_opt_out_keyword,
    coalesce({{ heymarket_is_keyword('text', var('heymarket_opt_in_keywords')) }}, false)
        as is_opt_in_keyword,
    {{ heymarket_json_as_text('raw_error') }} as error
from {{ source('heymarket', 'messages') }}
