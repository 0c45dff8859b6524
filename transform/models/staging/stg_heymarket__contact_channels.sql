-- One row per contact and omnichannel identifier (phone, email, Messenger, ...), from the
-- contacts' `contact_channels` array; a contact whose array is empty or missing has none.
with channels as (
    {{ heymarket_json_elements(source('heymarket', 'contacts'), 'contact_channels', ['cast(r.id as bigint) as contact_id']) }}
)

select
    contact_id,
    {{ heymarket_real_id(heymarket_json_text('element', 'id')) }} as contact_channel_id,
    lower({{ heymarket_json_text('element', 'channel_type') }}) as channel_type,
    nullif({{ heymarket_json_text('element', 'channel_id') }}, '') as channel_id,
    nullif({{ heymarket_json_text('element', 'channel_handle') }}, '') as channel_handle
from channels
