select
    cast(day as date) as day,
    cast(root as varchar) as root,
    cast(total_cumulative_wei as decimal(38, 0)) as total_cumulative_wei,
    cast(accounts as integer) as accounts,
    cast(budget_wei as decimal(38, 0)) as budget_wei,
    cast(dust_wei as decimal(38, 0)) as dust_wei
from {{ ref('int_rewards_roots_computed') }}
