"""dbt-duckdb plugin (profiles.yml `plugins: [{module: mignet.warehouse.dbt_plugin}]`): installs mignet's SQL
macros (`mignet.db.MACROS`, among them `mignet_content_hash`) on every connection and cursor dbt opens, so
the build records content hashes with exactly the formula the Python stages verify them with."""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin

from mignet import db


class Plugin(BasePlugin):
    def configure_connection(self, conn):
        db.install_macros(conn)

    def configure_cursor(self, cursor):
        db.install_macros(cursor)
