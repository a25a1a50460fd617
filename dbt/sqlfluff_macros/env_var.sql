{#- Stand-in for dbt's env_var when sqlfluff renders models with its plain jinja templater
    (dbt itself never reads this folder: dbt_project.yml's macro-paths is macros/ only). -#}
{% macro env_var(name, default="") -%}
    {{ default }}
{%- endmacro %}
