{#-
  A key over the refresh window only: never null, never repeated. dbt/macros/incremental.sql
  says why checking only the window is sound for charge_key. One test and one scan for both
  properties: on the night's critical path, the key of stg_focus__charges is read from the raw
  Parquet of the window, about 0.3 s a scan at the `large` scale point. A failing row is a
  problem: `null` (n_records: the null keys) or `duplicate` (a key and how often it occurs).
  The window is read in the test's body, when it runs, not in a YAML `where:`, which dbt
  renders while parsing.
-#}
{% test key_in_refresh_window(model, column_name, period_column) %}
select
    {{ column_name }} as key_value,
    case when {{ column_name }} is null then 'null' else 'duplicate' end as problem,
    count(*) as n_records
from {{ model }}
where {{ period_column }} >= {{ refresh_from() }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1
{% endtest %}
