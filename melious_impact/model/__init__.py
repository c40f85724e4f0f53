"""Per-token impact model: fit energy, grid intensity and water factors on captured
requests, predict with intervals, fill unreported rows, run scenarios, flag anomalies.

Public entry points (re-exported from ``melious_impact``): :func:`fit.fit_intensity`,
:class:`fit.IntensityModel`, :func:`fill.fill_missing`, :func:`scenario.scenario`,
:func:`locations.resolve_location` (the one resolver of a request's location to a country).
Modules: ``wls`` (per-group weighted least squares), ``cells`` (per-cell fit and pooling),
``sites`` (PUE and water per provider site), ``grid`` (intensity by location, month and
hour), ``priors`` and ``factors`` (public prior tables), ``prices``, ``predict``,
``fill``, ``scenario``, ``anomalies``, ``warnings`` (coded warnings). Nothing is loaded
at import time.
"""
