select source, file, line, field, reason, record, quarantined_at
from {{ source('raw', 'quarantine') }}
