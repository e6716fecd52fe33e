"""The run: its stages in order, the on-disk cache of its steps, and its result."""
