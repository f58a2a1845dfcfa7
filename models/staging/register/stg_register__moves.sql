-- One row per raw move, typed to the contract. Values that do not parse become NULL in the typed column;
-- the *_unparsed columns keep the text of such values where the contract quarantines them (the build has
-- refused an unreadable value anywhere else), so the checks can tell "missing" from "unreadable".
with source as (
    select * from {{ source('register', 'moves') }}
),

renamed as (
    select
        -- where in the file
        cast({{ raw_row_column() }} as bigint) as source_row,
        -- ids
        try_cast(move_id as bigint) as move_id,
        cast(person_id as varchar) as person_id,
        -- date and kind
        try_cast(move_date as date) as move_date,
        {{ unparsed('move_date', 'date') }} as move_date_unparsed,
        cast(move_type as varchar) as move_type,
        -- places
        cast(origin_nis as varchar) as origin_nis,
        cast(destination_nis as varchar) as destination_nis,
        cast(origin_country as varchar) as origin_country,
        cast(destination_country as varchar) as destination_country,
        -- address coordinates, Lambert 72 metres
        try_cast(origin_x as double) as origin_x,
        try_cast(origin_y as double) as origin_y,
        try_cast(destination_x as double) as destination_x,
        try_cast(destination_y as double) as destination_y,
        -- kind of the origin address (optional column: NULL where the extract lacks it)
        cast(origin_address_class as varchar) as origin_address_class,
        -- statistical sectors of the addresses (optional columns: NULL where the extract lacks them)
        cast(origin_sector as varchar) as origin_sector,
        cast(destination_sector as varchar) as destination_sector,
        {{ unparsed('origin_x', 'double') }} as origin_x_unparsed,
        {{ unparsed('origin_y', 'double') }} as origin_y_unparsed,
        {{ unparsed('destination_x', 'double') }} as destination_x_unparsed,
        {{ unparsed('destination_y', 'double') }} as destination_y_unparsed
    from source
)

select * from renamed
