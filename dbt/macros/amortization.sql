{#-
  The amortization views computed side by side. `configured` puts every dataset on its own
  configured policy (datasets.csv, else policies.default_amortization_policy): it feeds
  fct_dataset_amortization, fct_dataset_balance, dim_dataset and fct_data_share. Each policy
  name puts EVERY dataset on that policy, for comparison (fct_data_share_by_policy...).
-#}
{% macro amortization_policies() -%}
    {{ return(['units_of_production', 'straight_line', 'full_reuse', 'expense_on_first_use']) }}
{%- endmacro %}

{% macro amortization_scenarios() -%}
    {{ return(['configured'] + amortization_policies()) }}
{%- endmacro %}

{#- A one-column relation (scenario) listing every scenario. -#}
{% macro amortization_scenarios_relation() -%}
    {%- for scenario in amortization_scenarios() %}
    select '{{ scenario }}' as scenario
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- The pseudo-consumer that receives straight_line charges of months nobody used the dataset. -#}
{% macro unabsorbed_consumer() -%}
    'unabsorbed amortization'
{%- endmacro %}
