"""The planners' report (``report.html`` and ``report.md``) and its figures."""
