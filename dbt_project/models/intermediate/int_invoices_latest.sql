-- the highest version of every invoice, whatever its delivery date; when that version is
-- void the invoice adds no revenue at all
with latest as (
    select invoice_id, version, deal_id, period_start, period_end, amount_usd, status
    from {{ ref('stg_invoices__invoices') }}
    qualify row_number() over (partition by invoice_id order by version desc) = 1
)
select * from latest where status <> 'void'
