{#- The day window of a run, as SQL date expressions.
    window_end(): end_date, else yesterday (UTC).
    window_start(): start_date, else inception (params). Models that carry state
    always compute from inception; window_start only bounds what an incremental run
    rewrites.
    Each bound comes from `--vars` when given there, else from the environment
    (AIDNAV_START_DATE / AIDNAV_END_DATE, ISO dates). The environment keeps dbt's partial
    parsing: a change of `--vars` makes every run parse the whole project again (about
    4 s), a changed environment variable only the files that read it. -#}
{% macro window_bound(name) -%}
    {%- set value = var(name, none) -%}
    {%- if not value -%}
        {%- set value = env_var('AIDNAV_' ~ (name | upper), '') -%}
    {%- endif -%}
    {%- if not value -%}{{- return(none) -}}{%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
        {{- exceptions.raise_compiler_error("window " ~ name ~ ": got '" ~ text ~ "', expected an ISO date YYYY-MM-DD (--vars " ~ name ~ " or AIDNAV_" ~ (name | upper) ~ ")") -}}
    {%- endif -%}
    {{- return(text) -}}
{%- endmacro %}

{% macro window_end() -%}
    {%- set bound = window_bound('end_date') -%}
    {%- if bound -%}cast('{{ bound }}' as date){%- else -%}cast(timezone('UTC', now()) as date) - 1{%- endif -%}
{%- endmacro %}

{% macro window_start() -%}
    {%- set bound = window_bound('start_date') -%}
    {%- if bound -%}cast('{{ bound }}' as date){%- else -%}(select inception_date from {{ ref('int_ledger_params') }}){%- endif -%}
{%- endmacro %}

{#- Pre-hook of every daily mart: an incremental run first deletes all of the window's days
    (start_date .. end_date; without start_date, every day up to end_date), so a day that
    produces no row this time keeps none from an earlier run; days outside the window are
    never touched. The delete+insert that follows then only inserts. On a first build
    (no table yet) there is nothing to delete. -#}
{% macro clear_window_days() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where day <= {{ window_end() }}
    {%- if window_bound('start_date') %} and day >= cast('{{ window_bound("start_date") }}' as date){% endif %}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The rows a ledger mart writes: an incremental run, the window's days; a first build,
    every computed day (inception .. end_date), like the telemetry marts. `column` is a
    date expression. -#}
{% macro window_days_filter(column='day') -%}
    {{ column }} <= {{ window_end() }}
    {%- if is_incremental() and window_bound('start_date') %} and {{ column }} >= cast('{{ window_bound("start_date") }}' as date){% endif %}
{%- endmacro %}

{#- Literal bounds on a raw timestamptz column for the window's days (UTC), so DuckDB
    prunes the scan before deduplication; the exact day bounds are applied as well.
    A first build reads from inception (no lower bound here). -#}
{% macro window_ts_prefilter(column) -%}
    {{ column }} < cast({{ window_end() }} + 1 as timestamptz)
    {%- if is_incremental() and window_bound('start_date') %} and {{ column }} >= cast(cast('{{ window_bound("start_date") }}' as date) as timestamptz){% endif %}
{%- endmacro %}
