-- Example query of the income-position study (docs/income_positions.md): do domestic moves concentrate low
-- incomes in some area types (the study's question was the shrinking areas)? Per area type and study year,
-- the share of the lowest income position (the first non-student position of dim_income_position) among the
-- classified in-movers, the out-movers and the residents on 1 January, and the net of the position against
-- the net of every classified mover. Moves concentrate the position in an area type when its share among
-- the in-movers exceeds its share among the out-movers. Add e.g. `where area_type = 'shrinking'` for one
-- area type (the names are those of the extract's area_types table, dim_area).
with

lowest as (
    select position from {{ ref('dim_income_position') }}
    where not is_student_position
    order by position_order
    limit 1
),

balance as (
    select * from {{ ref('mart_migration_balance') }}
    where area_level = 'area_type' and n_years = 1
),

low as (
    select * from balance where position = (select position from lowest)
),

everyone as (
    select * from balance where position = 'all'
),

final as (
    select
        low.area_code as area_type,
        low.year_from as year,
        low.position,
        low.movers_in,
        low.movers_out,
        low.net_movers,
        everyone.net_movers as net_movers_all_positions,
        low.movers_in / nullif(everyone.movers_in, 0) as share_among_movers_in,
        low.movers_out / nullif(everyone.movers_out, 0) as share_among_movers_out,
        low.population / nullif(everyone.population, 0) as share_among_residents,
        1000 * low.net_rate_position as net_per_1000_of_position_per_year
    from low
    inner join everyone using (area_level, area_code, year_from, year_to)
)

select * from final
order by area_type, year
