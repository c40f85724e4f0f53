"""Cut a small JSON body down to the top-level objects a row is built from.

A chat completion is mostly ``choices`` (the completion text); a row needs ``id``,
``model``, ``usage``, ``environment_impact`` and ``billing_cost``. :func:`prune_json`
keeps those, byte for byte, and drops the rest, so the result can be journaled (it holds
no prompt and no completion) and parsed later, off the caller's path, by the same
functions that parse whole bodies (:func:`melious_impact.parse.body.apply_json`).

It runs on the caller's path, so it must be cheap: msgspec scans the body in C and hands
back the kept values as raw byte slices without decoding them (about a microsecond for
a chat completion). It declines (returns None) whenever the pruned body might parse to
something else than the whole body would, and the caller then parses the whole body at
once, as before:

- the body is not a well-formed JSON object in UTF-8 (Python's parser would take its own
  salvage path and give warnings; see :func:`~melious_impact.parse.body.apply_json`);
- it has an ``error`` or ``meta`` object (an error message may echo the prompt, and both
  are rare enough to parse at once);
- ``environment_impact`` or ``billing_cost`` appear somewhere but not at the top level
  (they are then searched for in nested objects, which pruning would drop).
"""

from __future__ import annotations

import msgspec
from msgspec import Raw

_ABSENT = Raw(b"")


class _TopLevel(msgspec.Struct):
    """The top-level keys :func:`~melious_impact.parse.extract.apply_response` reads.

    Every other key is skipped by the decoder without being decoded.
    """

    id: Raw = _ABSENT
    model: Raw = _ABSENT
    object: Raw = _ABSENT
    type: Raw = _ABSENT
    usage: Raw = _ABSENT
    environment_impact: Raw = _ABSENT
    billing_cost: Raw = _ABSENT
    # Read for their presence (or to decline), never kept.
    choices: Raw = _ABSENT
    error: Raw = _ABSENT
    meta: Raw = _ABSENT


_decode = msgspec.json.Decoder(_TopLevel).decode


def prune_json(body: bytes) -> bytes | None:
    """The body reduced to the objects a row needs, or None (parse the whole body instead).

    For any body where this returns bytes, ``apply_json(pruned)`` sets the same fields
    and warnings as ``apply_json(body)`` would.
    """
    try:
        top = _decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    if top.error or top.meta:
        return None
    if not body.isascii():
        try:  # msgspec does not check the UTF-8 of strings it skips; Python's parser does
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    impact, billing = top.environment_impact, top.billing_cost
    if (not impact and b'"environment_impact"' in body) or (not billing and b'"billing_cost"' in body):
        return None
    # An absent id, model, usage, impact or billing reads the same as null to the parse
    # functions (and no nested one exists, checked above); object, type and choices are
    # tested for presence (shape_of), so they appear only when present.
    return b"".join(
        (
            b'{"id":',
            top.id or b"null",
            b',"model":',
            top.model or b"null",
            b',"usage":',
            top.usage or b"null",
            b',"environment_impact":',
            impact or b"null",
            b',"billing_cost":',
            billing or b"null",
            b',"object":' if top.object else b"",
            top.object,
            b',"type":' if top.type else b"",
            top.type,
            # Its presence decides the response family; its content is the completion.
            b',"choices":[]}' if top.choices else b"}",
        )
    )
