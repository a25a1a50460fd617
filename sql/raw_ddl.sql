-- The raw layer as DuckDB DDL, for readers and for engines that want tables instead of
-- Parquet globs. The source of truth is plugins/llmledger/raw_schema.py (a test keeps this
-- file in step with it). Money and quantities are DECIMAL(38, 10); timestamps are UTC.

create table raw_focus (
    billing_account_id varchar,
    billing_period_start timestamp,
    billing_period_end timestamp,
    charge_period_start timestamp,
    charge_period_end timestamp,
    provider varchar,
    publisher varchar,
    invoice_issuer varchar,
    invoice_id varchar,
    resource_id varchar,
    resource_name varchar,
    sku_id varchar,
    service_name varchar,
    region varchar,
    charge_category varchar,
    charge_class varchar,
    charge_description varchar,
    pricing_unit varchar,
    pricing_quantity decimal(38, 10),
    consumed_unit varchar,
    consumed_quantity decimal(38, 10),
    billed_cost decimal(38, 10),
    effective_cost decimal(38, 10),
    list_cost decimal(38, 10),
    contracted_cost decimal(38, 10),
    billing_currency varchar,
    commitment_discount_id varchar,
    commitment_discount_category varchar,
    commitment_discount_status varchar,
    tags varchar,
    x_columns varchar,
    _source_file varchar not null,
    _source_sha256 varchar not null,
    _source_row bigint not null,
    _ingested_at timestamp not null
);

create table raw_annotation_invoice (
    vendor varchar not null,
    invoice_id varchar not null,
    invoice_date date,
    line_id varchar not null,
    project_code varchar,
    description varchar,
    unit_type varchar,
    quantity decimal(38, 10),
    unit_price decimal(38, 10),
    platform_fee decimal(38, 10),
    credit decimal(38, 10),
    amount decimal(38, 10),
    currency varchar,
    service_period_start date,
    service_period_end date,
    line_kind varchar,
    tax decimal(38, 10),
    discount decimal(38, 10),
    invoice_total decimal(38, 10),
    document_type varchar,
    references_invoice varchar,
    revision bigint,
    _source_file varchar not null,
    _source_sha256 varchar not null,
    _source_row bigint not null,
    _ingested_at timestamp not null
);

create table raw_slurm_job (
    job_id varchar not null,
    cluster varchar,
    partition varchar,
    account varchar,
    user_name varchar,
    job_name varchar,
    wckey varchar,
    comment varchar,
    state varchar,
    submit_time timestamp,
    start_time timestamp,
    end_time timestamp,
    elapsed_seconds bigint,
    gpus bigint not null,
    gpu_type varchar,
    alloc_tres varchar,
    _source_file varchar not null,
    _source_sha256 varchar not null,
    _source_row bigint not null,
    _ingested_at timestamp not null
);

create table raw_ingest_log (
    source_file varchar not null,
    source_sha256 varchar not null,
    kind varchar not null,
    parser varchar not null,
    status varchar not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    rows_skipped bigint not null,
    ingested_at timestamp not null
);

create table quarantine_row (
    _source_file varchar not null,
    _source_sha256 varchar not null,
    _source_row bigint not null,
    kind varchar not null,
    reason_code varchar not null,
    column_name varchar,
    value varchar,
    expected varchar,
    message varchar not null,
    raw_text varchar not null,
    _ingested_at timestamp not null
);

-- One row per JSONL run-manifest record (schema: plugins/llmledger/ingest/manifest.py, README).
create table raw_run_manifest (
    run_id varchar not null,
    cluster varchar not null,
    job_id varchar,
    gpus bigint not null,
    gpu_type varchar,
    start_time timestamp not null,
    end_time timestamp,
    stage varchar not null,
    model_generation varchar,
    dataset_produced varchar,
    datasets_consumed varchar,
    tokens bigint,
    parameters bigint,
    extra varchar,
    _source_file varchar not null,
    _source_sha256 varchar not null,
    _source_row bigint not null,
    _ingested_at timestamp not null
);
