"""The scenario: its typed schema, the TOML loader (with ``extends``) and the template."""
