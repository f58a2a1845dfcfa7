-- Clean moves with everything the marts need: harmonised codes, period, age and age band, the income of
-- the move's (or the next) year and its group, distance and the densities of the move year. Ephemeral: its
-- only consumer is fct_moves, so 7.7 million rows are written once.
{{ config(materialized='ephemeral') }}
{%- set year_offset = 1 if var('income_group_year') == 'next_year' else 0 %}

with

moves as (
    select * from {{ ref('int_moves_checked') }} where rule is null
),

persons as (
    select person_id, sex, birth_date, country_of_birth
    from {{ ref('int_persons_checked') }}
    where rule is null
),

-- every day of every period, and ages 0..150 with their band: equality joins instead of range joins
period_days as (
    select
        period_label,
        cast(unnest(generate_series(cast(start_date as timestamp), cast(end_date as timestamp), interval 1 day)) as date)
            as day
    from {{ ref('periods') }}
),

age_lookup as (
    select ages.age, age_bands.band_label
    from range(0, 151) as ages (age)
    inner join {{ ref('age_bands') }} as age_bands on ages.age between age_bands.min_age and age_bands.max_age
),

-- the grouped incomes are written once, as fct_incomes (int_incomes_grouped is a view)
incomes as (
    select person_id, income_year, disposable_income, income_imputed, income_group
    from {{ ref('fct_incomes') }}
),

municipalities as (
    select nis_code, centroid_x, centroid_y from {{ ref('int_municipalities_vintage') }}
),

population as (
    select nis_code, year, density_per_km2 from {{ ref('int_population_vintage') }}
),

with_person as (
    select
        moves.*,
        year(moves.move_date) as move_year,
        persons.sex,
        persons.country_of_birth,
        date_sub('year', persons.birth_date, moves.move_date) as age_at_move
    from moves
    left join persons using (person_id)
),

classified as (
    select
        with_person.*,
        period_days.period_label,
        case
            when with_person.age_at_move is null then 'unknown'
            else coalesce(age_lookup.band_label, 'other')
        end as age_band,
        with_person.move_type = 'internal'
            and with_person.origin_vintage_nis <> with_person.destination_vintage_nis as is_inter_municipal,
        with_person.move_type = 'internal'
            and with_person.origin_nis <> with_person.destination_nis
            and with_person.origin_vintage_nis = with_person.destination_vintage_nis as became_intra_by_harmonisation,
        -- integer like fct_incomes.income_year, so the join below compares without a cast per income row
        cast(with_person.move_year + {{ year_offset }} as integer) as income_year
    from with_person
    left join period_days on period_days.day = with_person.move_date
    left join age_lookup on age_lookup.age = with_person.age_at_move
),

located as (
    select
        classified.*,
        incomes.disposable_income,
        coalesce(incomes.income_imputed, false) as income_imputed,
        coalesce(incomes.income_group, 'unknown') as income_group,
        case
            when classified.move_type <> 'internal' then null
            when classified.origin_x is not null and classified.origin_y is not null
                and classified.destination_x is not null and classified.destination_y is not null
                then sqrt(
                    power(classified.origin_x - classified.destination_x, 2)
                    + power(classified.origin_y - classified.destination_y, 2)
                ) / 1000.0
            else sqrt(
                power(origin_centroid.centroid_x - destination_centroid.centroid_x, 2)
                + power(origin_centroid.centroid_y - destination_centroid.centroid_y, 2)
            ) / 1000.0
        end as distance_km,
        case
            when classified.move_type <> 'internal' then null
            when classified.origin_x is not null and classified.origin_y is not null
                and classified.destination_x is not null and classified.destination_y is not null then 'address'
            else 'centroid'
        end as distance_source,
        origin_population.density_per_km2 as density_origin_per_km2,
        destination_population.density_per_km2 as density_destination_per_km2
    from classified
    left join incomes
        on incomes.person_id = classified.person_id
        and incomes.income_year = classified.income_year
    left join municipalities as origin_centroid on origin_centroid.nis_code = classified.origin_vintage_nis
    left join municipalities as destination_centroid
        on destination_centroid.nis_code = classified.destination_vintage_nis
    left join population as origin_population
        on origin_population.nis_code = classified.origin_vintage_nis
        and origin_population.year = classified.move_year
    left join population as destination_population
        on destination_population.nis_code = classified.destination_vintage_nis
        and destination_population.year = classified.move_year
)

select * from located
