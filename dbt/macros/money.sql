{#-
  Exact money arithmetic. Amounts are DECIMAL(38, 10); DuckDB turns DECIMAL division into
  DOUBLE, so pro-rata splits are done in integer units of 1e-10 (HUGEINT) with floor division,
  and the remainder of every split is assigned explicitly by the model that splits. That is
  what makes "allocated + idle = pool cost" hold to the last unit rather than approximately.
  Other engines (Spark, Trino) get a DECIMAL(38, 0) based implementation through dispatch.
-#}

{% macro to_units(amount) -%}
    {{ return(adapter.dispatch('to_units', 'llmledger')(amount)) }}
{%- endmacro %}

{% macro default__to_units(amount) -%}
    cast(cast({{ amount }} as decimal(38, 10)) * 10000000000 as decimal(38, 0))
{%- endmacro %}

{% macro duckdb__to_units(amount) -%}
    cast(cast({{ amount }} as decimal(38, 10)) * 10000000000 as hugeint)
{%- endmacro %}

{% macro from_units(units) -%}
    cast(cast({{ units }} as decimal(38, 0)) * cast(0.0000000001 as decimal(11, 10)) as decimal(38, 10))
{%- endmacro %}

{#- floor(units * part / whole) for integers; whole must be > 0 -#}
{% macro prorate_units(units, part, whole) -%}
    {{ return(adapter.dispatch('prorate_units', 'llmledger')(units, part, whole)) }}
{%- endmacro %}

{% macro default__prorate_units(units, part, whole) -%}
    floor(({{ units }}) * ({{ part }}) / ({{ whole }}))
{%- endmacro %}

{% macro duckdb__prorate_units(units, part, whole) -%}
    (cast({{ units }} as hugeint) * cast({{ part }} as hugeint)) // cast({{ whole }} as hugeint)
{%- endmacro %}

{#- A ratio (not money) as DECIMAL(18, 10); null when the denominator is zero. -#}
{% macro safe_ratio(numerator, denominator) -%}
    case
        when ({{ denominator }}) = 0 then null
        else cast(cast({{ numerator }} as double) / cast({{ denominator }} as double) as decimal(18, 10))
    end
{%- endmacro %}

{% macro quarter_label(ts) -%}
    cast(extract(year from {{ ts }}) as varchar) || 'Q' || cast(extract(quarter from {{ ts }}) as varchar)
{%- endmacro %}
