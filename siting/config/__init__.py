"""The scenario: its typed schema, the TOML loader (with ``extends``), the template, the JSON
Schema and the reference generated from the types.

- :mod:`~siting.config.schema`: the design, :class:`~siting.config.schema.Scenario`, the file's
  top level and the JSON Schema; :mod:`~siting.config.tables` and :mod:`~siting.config.values`:
  every table and value a scenario holds.
- :mod:`~siting.config.loader`: :func:`~siting.config.loader.load` and
  :func:`~siting.config.loader.from_dict` (TOML, ``extends`` chains, relative paths).
- :mod:`~siting.config.messages`: pydantic's errors told as one ScenarioError with the fix.
- :mod:`~siting.config.memory` (the memory a run's grid needs, and the machine's) and
  :mod:`~siting.config.utm` (the UTM zone of a place, for ``crs = "auto"`` and the fixes).
- :mod:`~siting.config.template` (``siting init``) and :mod:`~siting.config.reference` (the docs).
- :mod:`~siting.config.scenario`: all of the above, as the rest of the package imports it.
"""
