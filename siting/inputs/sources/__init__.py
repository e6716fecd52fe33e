"""Readers for public data sources."""
