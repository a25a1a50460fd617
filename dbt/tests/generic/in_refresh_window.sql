{#-
  unique / not_null over the refresh window only; dbt/macros/incremental.sql says why that is
  sound for charge_key. The window is read in the test's body, when it runs, not in a YAML
  `where:`, which dbt renders while parsing.
-#}
{% test unique_in_refresh_window(model, column_name, period_column) %}
select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where {{ column_name }} is not null and {{ period_column }} >= {{ refresh_from() }}
group by {{ column_name }}
having count(*) > 1
{% endtest %}

{% test not_null_in_refresh_window(model, column_name, period_column) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is null and {{ period_column }} >= {{ refresh_from() }}
{% endtest %}
