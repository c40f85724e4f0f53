"""Exports to the ecosystem's formats.

- :mod:`melious_impact.export.otel`: OpenTelemetry spans and metrics (GenAI semantic
  conventions v1.41.0 + ``melious.*``): ``spans_from_rows``, ``export_frame``, ``OTelSink``.
- :mod:`melious_impact.export.tee`: ``TeeStore`` (deprecated: ``Recorder(store, sinks=[...])``).
- :mod:`melious_impact.export.focus`: FinOps FOCUS 1.2 cost and usage table: ``to_focus``,
  ``write_focus`` (columns encoded in :mod:`melious_impact.export.focus_spec`, published
  prices read by :mod:`melious_impact.export.focus_prices`).

Nothing is imported here, so ``import melious_impact.export`` needs no optional extra.
"""
