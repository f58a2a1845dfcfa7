-- One row per raw move, typed to the contract. Values that do not parse become NULL in the typed column;
-- the *_raw text columns keep what the file said, so the checks can tell "missing" from "unreadable".
with source as (
    select * from {{ source('register', 'moves') }}
),

renamed as (
    select
        -- where in the file
        cast(source_row as bigint) as source_row,
        -- ids
        try_cast(move_id as bigint) as move_id,
        cast(move_id as varchar) as move_id_raw,
        cast(person_id as varchar) as person_id,
        -- date and kind
        try_cast(move_date as date) as move_date,
        cast(move_date as varchar) as move_date_raw,
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
        cast(origin_x as varchar) as origin_x_raw,
        cast(origin_y as varchar) as origin_y_raw,
        cast(destination_x as varchar) as destination_x_raw,
        cast(destination_y as varchar) as destination_y_raw
    from source
)

select * from renamed
