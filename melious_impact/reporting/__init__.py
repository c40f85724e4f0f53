"""Self-contained sustainability reports and per-team dashboards (HTML, optionally PDF).

Public entry points are :func:`melious_impact.report` (``reporting.report``) and
:func:`melious_impact.dashboard` (``reporting.dashboard``). The package is named
``reporting`` so that ``melious_impact.report`` stays the public function.
"""
