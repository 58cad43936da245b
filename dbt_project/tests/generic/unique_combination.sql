{#- The grain of a model: each combination of `columns` on one row at most. Fails with
    the combinations that appear more than once (and how often). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
