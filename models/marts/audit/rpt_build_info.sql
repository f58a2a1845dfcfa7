-- One row: the dbt invocation that built this warehouse, when, and with which dbt. The settings it used are
-- in rpt_build_vars (every var) and the seeds (their content hashes in audit.rpt_build_content).
-- `mignet validate` reads the build id to take exactly this build's dbt results: data/build/<build_id>/ after
-- `mignet build`, or the target folder after a hand-run `dbt build`; results of any other build are refused.
select
    cast({{ sql_string(invocation_id) }} as varchar) as build_id,
    cast({{ sql_string(run_started_at.strftime("%Y-%m-%d %H:%M:%S")) }} as timestamp) as run_started_at,
    cast({{ sql_string(dbt_version) }} as varchar) as dbt_version,
    cast({{ sql_string(project_name) }} as varchar) as project_name
