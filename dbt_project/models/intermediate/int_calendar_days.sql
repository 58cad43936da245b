-- every day of the books: inception .. end of the window
select cast(d as date) as day
from range(
    (select inception_date from {{ ref('int_ledger_params') }}),
    {{ window_end() }} + 1,
    interval 1 day
) as t(d)
