select
    invoice_id,
    version,
    provider_id,
    deal_id,
    customer_id,
    issue_date,
    due_date,
    period_start,
    period_end,
    cast(amount_usd as decimal(38, 18)) as amount_usd,
    status,
    delivery_date,
    source_file,
    line
from {{ source('raw', 'invoices') }}
