select
    cast(day as date) as day,
    cast(account as varchar) as account,
    cast(twab as decimal(38, 18)) as twab,
    cast(reward_wei as decimal(38, 0)) as reward_wei,
    cast(cumulative_wei as decimal(38, 0)) as cumulative_wei
from {{ ref('int_staker_rewards_computed') }}
where account is not null
