-- Orders with typed, named columns: amounts in currency units, statuses lower-case.
select
    order_id,
    customer_id,
    ordered_at,
    lower(status) as status,
    cast(amount_cents as decimal(12, 2)) / 100 as amount
from {{ ref('raw_orders') }}
