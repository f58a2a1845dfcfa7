-- Example query of the income-position study (docs/income_positions.md): domestic migration per area type and
-- income position over the whole study period (the span of mart_migration_balance that covers every study
-- year): movers in from the other area types, movers out to them, the net, and the net per year per 1,000
-- residents of the area type and per 1,000 residents of the area type in the position. A mover counts once per
-- move; position `all` is every classified mover (the excluded ones are in mart_position_exclusions).
--
--     dbt compile --select income_positions_net_by_area_type   # then run target/compiled/.../*.sql in DuckDB
with

balance as (
    select * from {{ ref('mart_migration_balance') }}
    where area_level = 'area_type'
),

whole_period as (
    select * from balance
    where year_from = (select min(year_from) from balance)
        and year_to = (select max(year_to) from balance)
),

final as (
    select
        area_code as area_type,
        year_from,
        year_to,
        position,
        position_order,
        movers_in,
        movers_out,
        net_movers,
        round(population) as mean_population_of_position,
        round(population_total) as mean_population_total,
        1000 * net_rate_total as net_per_1000_residents_per_year,
        1000 * net_rate_position as net_per_1000_of_position_per_year
    from whole_period
)

select * from final
order by area_type, position_order
