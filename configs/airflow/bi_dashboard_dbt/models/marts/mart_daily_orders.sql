-- Orders and revenue per day and status: what the BI dashboard charts.
select
    order_day,
    status,
    count(*) as orders,
    sum(amount) as revenue
from {{ ref('stg_order_events') }}
group by order_day, status
