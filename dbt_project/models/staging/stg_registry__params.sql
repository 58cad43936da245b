select
    name,
    value
from {{ source('raw', 'params') }}
