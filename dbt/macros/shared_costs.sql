{#-
  Non-GPU shared costs of a cluster: a billing row with a cluster tag whose tag `cost_type` is
  set to anything but `gpu` (e.g. storage, network, cpu) is not GPU capacity. It stays out of the
  hourly GPU pools and is distributed per cluster and month by int_shared_costs_distributed.
  Returns the lower-cased cost type, or null for GPU compute (no tag, or `gpu`).
-#}
{% macro shared_cost_type(tags) -%}
    nullif(lower(trim(json_extract_string({{ tags }}, '$.cost_type'))), 'gpu')
{%- endmacro %}
