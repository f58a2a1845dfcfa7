-- Seed plausibility_bounds (the bands of the Great Expectations checks of `mignet validate`) is usable: every
-- check named once, severity error or warn, at least one bound, and lower <= upper. A malformed row stops the
-- build here rather than letting validation run with a band it cannot read.
with

bounds as (
    select check_name, lower, upper, severity from {{ ref('plausibility_bounds') }}
)

select check_name, 'named more than once' as problem
from bounds
where check_name is not null
group by check_name
having count(*) > 1

union all

select check_name, case
        when check_name is null or trim(check_name) = '' then 'check_name is empty'
        when severity is null or severity not in ('error', 'warn') then 'severity must be error or warn'
        when lower is null and upper is null then 'neither lower nor upper is given'
        else 'lower is greater than upper'
    end as problem
from bounds
where check_name is null or trim(check_name) = ''
    or severity is null or severity not in ('error', 'warn')
    or (lower is null and upper is null)
    or lower > upper
