{#- The day window of a run, as SQL date expressions.
    window_end(): var end_date, else yesterday (UTC).
    window_start(): var start_date, else inception (params). Models that carry state
    always compute from inception; window_start only bounds what an incremental run
    rewrites. -#}
{% macro window_end() -%}
    {%- if var('end_date', none) -%}cast('{{ var("end_date") }}' as date){%- else -%}cast(timezone('UTC', now()) as date) - 1{%- endif -%}
{%- endmacro %}

{% macro window_start() -%}
    {%- if var('start_date', none) -%}cast('{{ var("start_date") }}' as date){%- else -%}(select inception_date from {{ ref('int_ledger_params') }}){%- endif -%}
{%- endmacro %}
