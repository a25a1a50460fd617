with charges as (
    select * from {{ ref('int_billing_charges_converted') }}
),

final as (
    select
        charge_key,
        charge_period_start,
        charge_period_end,
        billing_period_start,
        -- No quarter is closed yet, so every charge posts to the quarter it was incurred in.
        charge_quarter as posting_period,
        provider,
        billing_account_id,
        invoice_id,
        resource_id,
        sku_id,
        charge_category,
        charge_class,
        commitment_discount_status,
        pricing_unit,
        consumed_unit,
        consumed_quantity,
        billed_cost,
        effective_cost,
        billing_currency,
        billed_cost_usd,
        effective_cost_usd,
        cluster,
        tag_activity,
        tag_dataset_version,
        tag_model_generation,
        _source_file,
        _source_sha256,
        _source_row,
        delivery_style,
        cluster_source
    from charges
)

select * from final
