"""MkDocs hook: Sphinx cross-reference roles in docstrings read as plain code on the site.

The package's docstrings name other objects the Sphinx way (``:func:`tags```,
``:class:`~melious_impact.errors.ModelError```). mkdocstrings renders Markdown, so the role
would show as literal text before the code span; this drops the role and the ``~`` marker
and keeps the code span.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|attr|data|exc|obj|const|type):(<code>)~?")


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(r"\1", html)
