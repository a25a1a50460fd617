with source as (
    select * from {{ source('raw', 'focus') }}
),

renamed as (
    select
        -- A source record that expands into several FOCUS rows (a GCP export record and its
        -- credits) gives each extra row an x_SubRow, so every charge keeps its own key.
        _source_sha256 || ':' || cast(_source_row as varchar)
        || coalesce(':' || json_extract_string(x_columns, '$.x_SubRow'), '') as charge_key,
        billing_account_id,
        billing_period_start,
        billing_period_end,
        charge_period_start,
        charge_period_end,
        provider,
        publisher,
        invoice_issuer,
        invoice_id,
        resource_id,
        resource_name,
        sku_id,
        service_name,
        region,
        charge_category,
        coalesce(charge_class, 'Regular') as charge_class,
        charge_description,
        pricing_unit,
        pricing_quantity,
        consumed_unit,
        consumed_quantity,
        coalesce(billed_cost, 0) as billed_cost,
        -- FOCUS: EffectiveCost absent means no amortization applies, so it equals BilledCost.
        coalesce(effective_cost, billed_cost, 0) as effective_cost,
        upper(coalesce(billing_currency, 'USD')) as billing_currency,
        commitment_discount_id,
        commitment_discount_category,
        commitment_discount_status,
        cast(coalesce(tags, '{}') as json) as tags,
        -- Tags a lab puts on rows that are direct costs (not GPU pools).
        json_extract_string(tags, '$.activity') as tag_activity,
        json_extract_string(tags, '$.dataset_version') as tag_dataset_version,
        json_extract_string(tags, '$.model_generation') as tag_model_generation,
        case
            when consumed_unit in ('GPU-Hours', 'GPU-Hour', 'GPU Hours', 'GPUHours')
                then coalesce(consumed_quantity, 0)
            else cast(0 as decimal(38, 10))
        end as paid_gpu_hours,
        date_diff('second', charge_period_start, charge_period_end) as charge_period_seconds,
        -- How the file delivers corrections (docs/CONTRACTS.md): replacement snapshots supersede
        -- earlier deliveries of their billing period; delta and ledger rows add.
        coalesce(lower(json_extract_string(x_columns, '$.x_DeliveryStyle')), 'delta') as delivery_style,
        -- When the provider exported the row (x_ExportedAt, normalised to UTC at ingest), else
        -- when it was ingested: orders successive snapshots of one billing period.
        coalesce(
            cast(json_extract_string(x_columns, '$.x_ExportedAt') as timestamp), _ingested_at
        ) as exported_at,
        _source_file,
        _source_sha256,
        _source_row,
        _ingested_at
    from source
)

select * from renamed
