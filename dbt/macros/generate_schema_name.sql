{#- One DuckDB file, schemas by layer: staging, intermediate, reference; marts in main so finance
    writes `select * from fct_data_share` with no prefix. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
