-- One row per order, as its latest event leaves it: amounts in currency units, statuses lower-case.
with ranked as (
    select
        *,
        row_number() over (partition by order_id order by event_at desc, event_id desc) as newest_first
    from {{ source('bi_raw', 'order_events') }}
)

select
    order_id,
    customer_id,
    ordered_at,
    cast(ordered_at as date) as order_day,
    lower(status) as status,
    cast(amount_cents as decimal(12, 2)) / 100 as amount,
    event_at as updated_at
from ranked
where newest_first = 1
