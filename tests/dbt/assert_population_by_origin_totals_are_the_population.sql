-- The residents of a municipality in population_by_origin (every group of each classification) are its
-- registered population of dim_municipality_year, year by year: the composition and the rates share one
-- denominator. Compared for every municipality and year of dim_municipality_year that the stock covers.
select years.nis_code, years.year, years.population, groups.classification, groups.population_total
from {{ ref('dim_municipality_year') }} as years
inner join (
    select distinct area_code, year, classification, population_total
    from {{ ref('mart_area_population_groups') }}
    where area_level = 'municipality'
) as groups
    on groups.area_code = years.nis_code and groups.year = years.year
where groups.population_total <> years.population
