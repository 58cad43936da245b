-- the parameters the models use, one row, typed. raw.params holds every parameter with
-- its default already filled in by the registry loader (docs/DATA_CONTRACTS.md,
-- "Registry"): no default is applied here.
with p as (
    select name, value from {{ ref('stg_registry__params') }}
)
select
    cast((select value from p where name = 'inception_date') as date) as inception_date,
    cast((select value from p where name = 'sample_interval_s') as integer) as sample_interval_s,
    cast((select value from p where name = 'protocol_fee_apr') as decimal(38, 18)) as protocol_fee_apr,
    cast((select value from p where name = 'performance_fee_pct') as decimal(38, 18)) as performance_fee_pct,
    cast((select value from p where name = 'recovery_rate') as decimal(38, 18)) as recovery_rate,
    cast((select value from p where name = 'daily_rewards_budget_gaib') as decimal(38, 18)) as daily_rewards_budget_gaib
