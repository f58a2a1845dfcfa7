-- Every raw population_by_origin row with the first quarantine rule it breaks (NULL = clean) and a readable
-- reason, and the area it counts on the target vintage. The value checks are the raw data contract's (macro
-- contract_breaks); a reference date that is not a 1 January, and an area that is not a clean sector or
-- municipality valid that day or that lies in no single municipality of the target vintage, are this
-- model's. A duplicate is a row whose (area_code, reference_date, country) is on an earlier row of the file:
-- the first row stays. A municipality row (a five-digit area_code) counts every resident of the
-- municipality; a sector row the residents of the sector, put on the sector of the vintage its code maps to,
-- or on the unknown sector of its vintage municipality when it maps to none (int_sector_code_vintage_map).
with

population as not materialized (
    select * from {{ ref('stg_register__population_by_origin') }}
),

municipalities as (
    select nis_code, valid_from, valid_to from {{ ref('int_municipalities_checked') }} where rule is null
),

vintage_map as (
    select nis_code, vintage_nis from {{ ref('int_nis_code_vintage_map') }}
),

vintage_municipalities as (
    select nis_code from {{ ref('int_municipalities_vintage') }}
),

sectors as (
    select sectors.sector_code, sectors.valid_from, sectors.valid_to, sectors.vintage_nis, sector_map.vintage_sector
    from {{ ref('int_sectors_checked') }} as sectors
    inner join {{ ref('int_sector_code_vintage_map') }} as sector_map using (sector_code)
    where sectors.rule is null
),

-- duplicates: the keys whose 64-bit hash is seen twice (one aggregation over every row), then those few
-- ranked in file order
duplicate_hashes as (
    select hash(area_code, reference_date, country) as key_hash
    from population
    group by key_hash
    having count(*) > 1
),

duplicates as (
    select source_row, true as is_duplicate
    from (
        select
            source_row,
            row_number() over (partition by area_code, reference_date, country order by source_row) as key_rank
        from population
        where hash(area_code, reference_date, country) in (select key_hash from duplicate_hashes)
    )
    where key_rank > 1
),

looked_up as (
    select
        population.*,
        coalesce(duplicates.is_duplicate, false) as is_duplicate,
        length(population.area_code) = 5 as is_municipality_row,
        coalesce(municipalities.nis_code, sectors.sector_code) is not null as is_known,
        coalesce(
            population.reference_date between coalesce(municipalities.valid_from, sectors.valid_from)
                and coalesce(municipalities.valid_to, sectors.valid_to, population.reference_date),
            false
        ) as is_valid_on_date,
        case when municipalities.nis_code is not null then vintage_municipalities.nis_code else sectors.vintage_nis end
            as vintage_nis,
        case when sectors.sector_code is not null
            then coalesce(sectors.vintage_sector, {{ unknown_sector_code('sectors.vintage_nis') }}) end as vintage_sector
    from population
    left join duplicates using (source_row)
    left join municipalities on municipalities.nis_code = population.area_code
    left join vintage_map on vintage_map.nis_code = municipalities.nis_code
    left join vintage_municipalities on vintage_municipalities.nis_code = vintage_map.vintage_nis
    left join sectors on sectors.sector_code = population.area_code
),

checked as (
    select
        source_row,
        area_code,
        reference_date,
        country,
        by_nationality_at_birth,
        by_current_nationality,
        by_country_of_birth,
        case when is_municipality_row then 'municipality' else 'sector' end as area_level,
        vintage_nis,
        vintage_sector,
        case
            when is_duplicate then 'population_origin_duplicate'
            when {{ contract_breaks('population_by_origin', 'population_origin_value_invalid') }}
                or coalesce(strftime(reference_date, '%m-%d') <> '01-01', false) then 'population_origin_value_invalid'
            when not is_known or not is_valid_on_date or vintage_nis is null then 'population_origin_area_invalid'
        end as rule,
        case
            when is_duplicate
                then 'area_code ' || area_code || ' already has a row for ' || cast(reference_date as varchar)
                    || ' and country ' || coalesce(country, 'NULL (unknown)')
            when {{ contract_breaks('population_by_origin', 'population_origin_value_invalid') }}
                then {{ contract_reason('population_by_origin', 'population_origin_value_invalid') }}
            when coalesce(strftime(reference_date, '%m-%d') <> '01-01', false)
                then 'reference_date ' || cast(reference_date as varchar) || ' is not a 1 January'
            when not is_known
                then 'area_code ' || area_code || ' is not in '
                    || case when is_municipality_row then 'municipalities' else 'sectors' end
                    || ' (or its row there is quarantined)'
            when not is_valid_on_date
                then 'area_code ' || area_code || ' is not valid on ' || cast(reference_date as varchar)
            when vintage_nis is null
                then 'area_code ' || area_code || ' lies in no single municipality of vintage '
                    || {{ sql_string(var('target_vintage')) }}
        end as reason
    from looked_up
)

select * from checked
