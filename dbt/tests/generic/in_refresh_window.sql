{#-
  unique / not_null over the refresh window only (dbt/macros/incremental.sql): rows before it
  were checked by the build that wrote them, and a charge_key embeds its file's sha256, so a new
  file's row cannot repeat an old key. The window is read when the test runs, not in its YAML
  config (a `where:`): dbt renders that at parse time and would re-parse every YAML file using
  it whenever the window moves, that is every night.
-#}
{% test unique_in_refresh_window(model, column_name, period_column) %}
select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where {{ column_name }} is not null and {{ period_column }} >= {{ refresh_from_at_run_time() }}
group by {{ column_name }}
having count(*) > 1
{% endtest %}

{% test not_null_in_refresh_window(model, column_name, period_column) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is null and {{ period_column }} >= {{ refresh_from_at_run_time() }}
{% endtest %}
