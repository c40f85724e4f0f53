"""Self-contained sustainability reports and per-team dashboards (HTML, optionally PDF).

Public entry points are :func:`melious_impact.report` (``report.report``) and
:func:`melious_impact.dashboard` (``report.dashboard``).

Why this package is callable: ``melious_impact.report`` is both a public function and
the name of this subpackage. Once the subpackage is imported, Python sets the parent's
``report`` attribute to this module, which would shadow the function; making the module
callable keeps ``mi.report(store, "report.html")`` working however it was reached.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from melious_impact.report.report import report

        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
