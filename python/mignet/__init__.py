"""mignet: warehouse, data quality and network models for population-register migration data."""

__version__ = "0.1.0"
