{#
  Incremental models on charge period (README "Incremental refresh"). llmledger.incremental
  decides, per build, from which hour on the heavy models must be recomputed: the earliest
  hour any newly ingested row can touch (its charge period, earlier deliveries of a replaced
  billing period, earlier records of a re-logged job), minus a lookback of whole days. It
  passes that hour in the environment variable LLMLEDGER_REFRESH_FROM (the var
  llmledger_refresh_from, when given, wins). Not a var: dbt re-parses the whole project when a
  var changes, and the window changes every night. Nothing reads it at parse time either
  (refresh_from() reads it only when dbt runs the SQL), so a new window re-parses no file.
  A model deletes its rows from that hour on (pre-hook) and inserts them recomputed from its
  full upstream tables, so the rows it keeps are exactly those no new input can change (the
  billing models keyed by charge get the same table by writing only the difference: strategy
  refresh_window_diff below). Without either the window is everything: a bare
  `dbt build` on an existing warehouse is slow but still right. `dbt build --full-refresh`
  rebuilds every table from scratch.
#}

{#- The window's start. Read only when dbt runs the SQL (null while parsing): a file that
    read it at parse time would be re-parsed whenever the window moves, that is every night. -#}
{% macro refresh_from() -%}
    {%- if execute -%}
    cast('{{ var("llmledger_refresh_from", env_var("LLMLEDGER_REFRESH_FROM", "1900-01-01 00:00:00")) }}' as timestamp)
    {%- else -%}
    cast(null as timestamp)
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of an incremental model: drop the rows of the refresh window. -#}
{% macro delete_refresh_window(column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_refresh_window(column) }}
    {%- endif -%}
{%- endmacro %}

{#- Incremental strategy `refresh_window_diff` (config: unique_key, refresh_window_column): the
    same result as deleting the refresh window and appending the model's rows (the pre-hook
    delete_refresh_window with strategy `append`), written as a difference. Rows of the window
    that the night reproduces exactly stay where they are; a row that changed or is no longer
    produced is deleted, and only the model's rows the window no longer holds are inserted.
    Most of a window is the lookback, unchanged from the night before: at the `large` scale
    point a billing model writes the new day (about 50,000 rows) instead of the whole window
    (200,000). That spares the insert, the commit of an enforced primary key's index
    (fct_billing_charge: DuckDB's commit of a delete and re-insert of the same keys took 0.6 to
    1.2 s, and held up the commits of the models beside it), and the checkpoint's vacuum: the
    window's rows of a full build lie in a dozen row groups of 18 million rows, and once their
    deletes let two neighbours fit in one, the checkpoint rewrites them (2 to 3 s measured for
    int_billing_charges_converted, both threads waiting).
    The rows are matched by the unique key, then compared column by column (nulls equal): a
    hash join on one column, 0.1 s for that window, where EXCEPT ALL on every column took 0.8 s.
    A window row is kept only when its key is not null, exactly one new row has that key and
    every column is the same; every other window row is deleted, and every new row whose key
    the window no longer holds (or is null) is inserted. So the table is the same multiset as
    after a delete and an append, whatever the keys: a key the model gives twice is inserted
    twice, and a null key as null (an enforced primary key fails on either, as on an append).
    The key makes it cheap, not right: it should be unique. -#}
{% macro get_incremental_refresh_window_diff_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set key_name = config.require("unique_key") -%}
    {%- if key_name is not string -%}
        {{ exceptions.raise_compiler_error(
            "incremental strategy refresh_window_diff: unique_key must be one column, not "
            ~ key_name
        ) }}
    {%- endif -%}
    {%- set key = adapter.quote(key_name) -%}
    {%- set window = in_refresh_window(adapter.quote(config.require("refresh_window_column"))) -%}
    {%- set names = arg_dict["dest_columns"] | map(attribute="name") | list -%}
    {%- set columns = get_quoted_csv(names) -%}
    delete from {{ target }}
    where {{ window }}
        and ({{ key }} is null or {{ key }} in (
            select kept.{{ key }}
            from (select {{ columns }} from {{ target }} where {{ window }}) as kept
            left join {{ source }} as new on kept.{{ key }} = new.{{ key }}
            group by kept.{{ key }}
            having count(new.{{ key }}) <> 1 or bool_or(false
            {%- for name in names if name != key_name %}
                or kept.{{ adapter.quote(name) }} is distinct from new.{{ adapter.quote(name) }}
            {%- endfor %})
        ));
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }} as new
    anti join (select {{ key }} from {{ target }} where {{ window }}) as kept
        on new.{{ key }} = kept.{{ key }}
{%- endmacro %}

{#- A where-clause term: true on a full build, the window on an incremental one. -#}
{% macro in_refresh_window(column) -%}
    {%- if is_incremental() -%}
        {{ column }} >= {{ refresh_from() }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- `values` as SQL string literals, comma-separated (for an IN list). -#}
{% macro sql_strings(values) -%}
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- A where-clause term for rows per calendar month (int_shared_costs_distributed): true on a
    full build; on an incremental one, the months from the one the refresh window starts in.
    A month's rows depend on every charge and allocation of that month, so a window that
    starts mid-month recomputes the whole month. -#}
{% macro in_refresh_months(column) -%}
    {%- if is_incremental() -%}
        {{ column }} >= date_trunc('month', {{ refresh_from() }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of a model of monthly rows: drop the months of the refresh window. -#}
{% macro delete_refresh_months(column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_refresh_months(column) }}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of an incremental model holding several kinds of rows (int_spend_ledger): those
    whose `kind_column` is in `windowed` come from a model windowed like this one, so they are
    dropped from the refresh window on (by `column`); those in `monthly` come from a model of
    monthly rows (in_refresh_months), so they are dropped from the window's month on; every
    other row comes from a model rebuilt whole each night, so it is dropped. -#}
{% macro delete_refresh_window_and_rebuilt(column, kind_column, windowed, monthly=[]) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ kind_column }} not in ({{ sql_strings(windowed + monthly) }})
            or {{ in_refresh_window(column) }}
            {%- if monthly %}
            or ({{ kind_column }} in ({{ sql_strings(monthly) }}) and {{ in_refresh_months(column) }})
            {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of a per-file incremental model: drop the rows of files no longer in the ingest
    log as loaded (a bare `dbt build` after a raw file was removed stays right). -#}
{% macro delete_files_no_longer_ingested(column, kind) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ column }} not in (
            select source_sha256 from {{ ref('stg_ingest__files') }}
            where kind = '{{ kind }}' and status = 'loaded'
        )
    {%- endif -%}
{%- endmacro %}

{#- The data test on charge_key (staging, int_billing_deliveries_resolved, fct_billing_charge)
    is key_in_refresh_window (dbt/tests/generic: unique and not null): on an incremental
    build they check only the refresh window, every row the build can add or change; on a full
    build, all rows. That is sound because the key embeds the source file's sha256: rows
    outside the window were checked by the build that wrote them, and a new row, from a file
    never ingested before, cannot share a key with them. -#}

{#- The loaded FOCUS files whose rows `relation` (keyed by _source_sha256) does not have yet,
    as a list of string literals for `_source_sha256 in (...)`; `null` when there are none (an
    IN list cannot be empty, and nothing equals null). Literals, not a subquery: DuckDB pushes a
    constant IN list through the staging view into the Parquet scan, where each raw file's
    row-group statistics (one sha256 per file) skip every file already loaded. A `not in
    (subquery)` is evaluated after the view has parsed every billing row ever delivered
    (18 million at the `large` scale point, 1.5 s a night). -#}
{% macro focus_files_not_in(relation) -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select source_sha256 from " ~ ref('stg_ingest__files')
            ~ " where kind = 'focus' and status = 'loaded' and source_sha256 not in"
            ~ " (select t._source_sha256 from " ~ relation ~ " as t) order by 1"
        ) -%}
        {%- set shas = found.columns[0].values() -%}
        {%- if shas | length == 0 -%}
            null
        {%- else -%}
            {{- sql_strings(shas) -}}
        {%- endif -%}
    {%- else -%}
        null
    {%- endif -%}
{%- endmacro %}

{#- A Slurm job's identity across its records and attempts: cluster (or '') / job id. -#}
{% macro slurm_job_ref(cluster, job_id) -%}
    coalesce({{ cluster }}, '') || '/' || {{ job_id }}
{%- endmacro %}

{#- The Slurm jobs (slurm_job_ref) with a record in the refresh window: every job a new sacct
    file mentions is among them, since the window starts no later than the earliest submit or
    start of any record of such a job (llmledger.incremental). A record with neither time is
    always taken (it cannot place itself in time). -#}
{% macro slurm_jobs_in_refresh_window() -%}
    select distinct {{ slurm_job_ref('cluster', 'job_id') }}
    from {{ ref('stg_slurm__jobs') }}
    where {{ slurm_record_in_refresh_window() }}
{%- endmacro %}

{#- A Slurm record in the refresh window: started or submitted in it, or without either time. -#}
{% macro slurm_record_in_refresh_window() -%}
    coalesce(least(start_time, submit_time) >= {{ refresh_from() }}, true)
{%- endmacro %}

{#- A filter on job_id alone that keeps every job of slurm_jobs_in_refresh_window (and maybe
    more): job ids between the least and the greatest of those jobs' ids, as literals. It
    prunes nothing a query needs, yet DuckDB pushes it below the window functions of
    stg_slurm__jobs (job_id is in each of their partitions, so whole partitions go or stay)
    into the Parquet scan, whose row-group statistics skip the records of older jobs: a night
    ranks the records of its own jobs instead of a year of them (0.7 s at the `large` scale
    point). Slurm numbers jobs in order, so the range is narrow; where ids are not ordered in
    time it prunes less, never wrongly. `false` when the window has no job, `true` while
    parsing. -#}
{% macro slurm_job_ids_around_refresh_window() -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select min(job_id), max(job_id) from " ~ ref('stg_slurm__jobs')
            ~ " where " ~ slurm_record_in_refresh_window()
        ) -%}
        {%- set least, greatest = found.rows[0][0], found.rows[0][1] -%}
        {%- if least is none -%}
            false
        {%- else -%}
            job_id between '{{ least | replace("'", "''") }}' and '{{ greatest | replace("'", "''") }}'
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of int_jobs_tagged: drop the jobs the night re-tags, and every pod row. -#}
{% macro delete_jobs_in_refresh_window() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where
            workload = 'k8s_pod'
            or {{ slurm_job_ref('cluster', 'job_id') }} in ({{ slurm_jobs_in_refresh_window() }})
    {%- endif -%}
{%- endmacro %}

{#- The ingest log's files (raw/_ingest_log/, one Parquet file per ingested file), as a string
    literal for read_blob / read_parquet: the glob of all of them, or the file `name`. -#}
{% macro ingest_log_glob(name='*.parquet') -%}
    '{{ (env_var("LLMLEDGER_HOME") ~ "/raw/_ingest_log/" ~ name) | replace("'", "''") }}'
{%- endmacro %}

{#- The ingest-log files stg_ingest__files (`relation`) has not read as they are now (path,
    modification time and size), each as ", '<path>'" to follow a first list item; empty when
    there are none. Constant literals: DuckDB opens only those files. -#}
{% macro ingest_log_files_unread(relation) -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select f.filename from read_blob(" ~ ingest_log_glob() ~ ") as f"
            ~ " where f.filename not like '%/_schema.parquet' and not exists ("
            ~ " select 1 from " ~ relation ~ " as t where t._log_file = f.filename"
            ~ " and t._log_modified_at = f.last_modified and t._log_bytes = f.size) order by 1"
        ) -%}
        {%- for path in found.columns[0].values() -%}
            , '{{ path | replace("'", "''") }}'
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of stg_ingest__files: drop the rows whose log file is gone or was rewritten
    (ingest_log_files_unread reads the rewritten ones again). -#}
{% macro delete_ingest_log_rows_not_current() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as t where not exists (
            select 1 from read_blob({{ ingest_log_glob() }}) as f
            where f.filename = t._log_file
                and f.last_modified = t._log_modified_at
                and f.size = t._log_bytes
        )
    {%- endif -%}
{%- endmacro %}
