-- Per day on which contacts were created: new contacts, the cumulative count, and the share
-- of the cumulative contacts opted out now (the contacts' `is_opted_out`).
with days as (
    select
        cast(date_trunc('day', created_at) as date) as day,
        count(*) as new_contacts,
        sum(case when is_opted_out then 1 else 0 end) as new_opted_out
    from {{ ref('stg_heymarket__contacts') }}
    where created_at is not null
    group by 1
)

select
    day,
    new_contacts,
    cast(
        sum(new_contacts) over (order by day rows between unbounded preceding and current row)
        as bigint
    ) as cumulative_contacts,
    {{ heymarket_ratio(
        'sum(new_opted_out) over (order by day rows between unbounded preceding and current row)',
        'sum(new_contacts) over (order by day rows between unbounded preceding and current row)'
    ) }} as opted_out_share
from days
