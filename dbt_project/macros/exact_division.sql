{#- DuckDB's DECIMAL / DECIMAL returns DOUBLE. exact_div_18(n, d) divides two exact
    non-negative integers (HUGEINT) and returns the quotient as DECIMAL(38,18), rounded
    half-even at the 18th decimal place, with no binary floating point on the way:
    q = n * 1e18 div d, then + 1 when the remainder is above half of d (or exactly half
    and q is odd). Used for coverage, averages and unit conversions of telemetry. -#}
{% macro create_exact_division_macro() %}
create or replace macro exact_div_18(n, d) as (
    cast((
        (cast(n as hugeint) * cast(1000000000000000000 as hugeint)) // cast(d as hugeint)
        + case
            when 2 * ((cast(n as hugeint) * cast(1000000000000000000 as hugeint)) % cast(d as hugeint)) > cast(d as hugeint) then 1
            when 2 * ((cast(n as hugeint) * cast(1000000000000000000 as hugeint)) % cast(d as hugeint)) = cast(d as hugeint)
                 and ((cast(n as hugeint) * cast(1000000000000000000 as hugeint)) // cast(d as hugeint)) % 2 = 1 then 1
            else 0
          end
    ) as decimal(38, 0)) * cast(0.000000000000000001 as decimal(38, 18))
)
{% endmacro %}
