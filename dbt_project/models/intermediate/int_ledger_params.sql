-- the parameters the models use, one row, typed (defaults of DATA_CONTRACTS.md when absent)
with p as (
    select name, value from {{ ref('stg_registry__params') }}
),
earliest_funding as (
    select min(funded_date) as funded_date from {{ ref('stg_registry__deals') }}
)
select
    coalesce(cast((select value from p where name = 'inception_date') as date),
             (select funded_date from earliest_funding)) as inception_date,
    cast(coalesce((select value from p where name = 'sample_interval_s'), '60') as integer) as sample_interval_s,
    cast(coalesce((select value from p where name = 'protocol_fee_apr'), '0.0025') as decimal(38, 18)) as protocol_fee_apr,
    cast(coalesce((select value from p where name = 'performance_fee_pct'), '0.15') as decimal(38, 18)) as performance_fee_pct,
    cast(coalesce((select value from p where name = 'recovery_rate'), '0.70') as decimal(38, 18)) as recovery_rate,
    cast(coalesce((select value from p where name = 'daily_rewards_budget_gaib'), '10000') as decimal(38, 18)) as daily_rewards_budget_gaib
