"""OpenTelemetry GenAI semantic-convention rules (release v1.41.0) as data, each cited.

Written from the release's texts: ``model/gen-ai/spans.yaml`` (span attribute groups and
requirement levels), ``model/gen-ai/metrics.yaml`` and ``docs/gen-ai/gen-ai-metrics.md``
(instruments, units, attributes, advised bucket boundaries), ``model/gen-ai/registry.yaml``
(attribute types) and ``model/gen-ai/deprecated/registry-deprecated.yaml``. Sections are named
as in ``docs/gen-ai/``: "gen-ai-spans.md > Inference" etc. Custom units are checked against
UCUM (the Unified Code for Units of Measure, which the conventions use for units).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SPANS = "gen-ai-spans.md"
METRICS = "gen-ai-metrics.md"
REGISTRY = "registry/attributes/gen-ai.md"


@dataclass(frozen=True)
class AttributeRule:
    key: str
    level: str  # required, conditionally_required, recommended
    value_type: type | tuple[type, ...]
    condition: str = ""  # for conditionally_required: when (see CONDITIONS)
    section: str = ""


# Span attributes of the inference client span (chat, text completion...) and, where marked,
# of the embeddings span. Condition names are evaluated on the captured row by the test.
INFERENCE = f"{SPANS} > Inference"
EMBEDDINGS = f"{SPANS} > Embeddings"
SPAN_ATTRIBUTES: tuple[AttributeRule, ...] = (
    AttributeRule("gen_ai.operation.name", "required", str, section=INFERENCE),
    AttributeRule("gen_ai.provider.name", "required", str, section=INFERENCE),
    AttributeRule("gen_ai.request.model", "conditionally_required", str, "model_known", INFERENCE),
    AttributeRule("error.type", "conditionally_required", str, "error", INFERENCE),
    AttributeRule("server.port", "conditionally_required", int, "server_address_set", INFERENCE),
    AttributeRule("server.address", "recommended", str, section=INFERENCE),
    # "If and only if the request is streaming. If unset, the request is assumed to be non-streaming."
    AttributeRule("gen_ai.request.stream", "conditionally_required", bool, "streaming", INFERENCE),
    AttributeRule("gen_ai.response.time_to_first_chunk", "recommended", float, "streaming", INFERENCE),
    AttributeRule("gen_ai.response.id", "recommended", str, section=INFERENCE),
    AttributeRule("gen_ai.response.model", "recommended", str, section=INFERENCE),
    AttributeRule("gen_ai.usage.input_tokens", "recommended", int, section=INFERENCE),
    AttributeRule("gen_ai.usage.output_tokens", "recommended", int, section=INFERENCE),
    AttributeRule("gen_ai.usage.cache_read.input_tokens", "recommended", int, section=INFERENCE),
    AttributeRule("gen_ai.usage.reasoning.output_tokens", "recommended", int, section=INFERENCE),
)
# Attributes that must only appear under their condition (the conditions are "if and only if").
ONLY_UNDER_CONDITION = ("gen_ai.request.stream", "gen_ai.response.time_to_first_chunk", "error.type")
DEPRECATED_ATTRIBUTES = {"gen_ai.system": f"{REGISTRY} (deprecated: use gen_ai.provider.name)"}
SPAN_KIND = ("CLIENT", f"{SPANS} > Inference (span kind SHOULD be CLIENT)")
SPAN_NAME = ("{gen_ai.operation.name} {gen_ai.request.model}", f"{SPANS} > Inference (span name)")
# gen_ai.operation.name well-known values: when one applies it MUST be used.
WELL_KNOWN_OPERATIONS = {
    "/v1/chat/completions": "chat",
    "/v1/embeddings": "embeddings",
    "/v1/completions": "text_completion",
}

TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
SECONDS_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

_COMMON = (
    AttributeRule("gen_ai.operation.name", "required", str, section=METRICS),
    AttributeRule("gen_ai.provider.name", "required", str, section=METRICS),
    AttributeRule("gen_ai.request.model", "conditionally_required", str, "model_known", METRICS),
    AttributeRule("server.port", "conditionally_required", int, "server_address_set", METRICS),
    AttributeRule("gen_ai.response.model", "recommended", str, section=METRICS),
    AttributeRule("server.address", "recommended", str, section=METRICS),
)


@dataclass(frozen=True)
class MetricRule:
    name: str
    instrument: str  # histogram, counter
    unit: str
    buckets: tuple[float, ...] | None
    attributes: tuple[AttributeRule, ...]
    streaming_only: bool = False
    section: str = ""


METRIC_RULES: tuple[MetricRule, ...] = (
    MetricRule(
        "gen_ai.client.token.usage",
        "histogram",
        "{token}",
        TOKEN_BUCKETS,
        (*_COMMON, AttributeRule("gen_ai.token.type", "required", str, section=METRICS)),
        section=f"{METRICS} > Metric: gen_ai.client.token.usage",
    ),
    MetricRule(
        "gen_ai.client.operation.duration",
        "histogram",
        "s",
        SECONDS_BUCKETS,
        (*_COMMON, AttributeRule("error.type", "conditionally_required", str, "error", METRICS)),
        section=f"{METRICS} > Metric: gen_ai.client.operation.duration",
    ),
    MetricRule(
        "gen_ai.client.operation.time_to_first_chunk",
        "histogram",
        "s",
        SECONDS_BUCKETS,
        _COMMON,
        streaming_only=True,  # "SHOULD be reported for streaming calls and SHOULD NOT otherwise"
        section=f"{METRICS} > Metric: gen_ai.client.operation.time_to_first_chunk",
    ),
)
TOKEN_TYPES = ("input", "output")  # gen_ai.token.type well-known values

# ------------------------------------------------------------------------------------ UCUM
# A small UCUM grammar: term = component ("." component)*, component = annotation |
# [prefix] atom [exponent] [annotation]. Atoms and prefixes below are the ones of the UCUM
# tables this package may use (base units, SI prefixes, and the customary h, L, W, J, By).
UCUM_SOURCE = "UCUM (The Unified Code for Units of Measure), sections 2-4 and tables of atoms/prefixes"
UCUM_PREFIXES = ("Y", "Z", "E", "P", "T", "G", "M", "k", "h", "da", "d", "c", "m", "u", "n", "p", "f")
UCUM_ATOMS = (
    "1",
    "s",
    "min",
    "h",
    "d",
    "g",
    "m",
    "L",
    "l",
    "W",
    "J",
    "Hz",
    "By",
    "bit",
    "%",
    "Cel",
    "K",
    "mol",
)
_ANNOTATION = r"\{[!-z|~]*\}"  # printable ASCII without curly braces
_SIMPLE = rf"(?:{'|'.join(UCUM_PREFIXES)})?(?:{'|'.join(re.escape(a) for a in UCUM_ATOMS)})(?:-?\d+)?(?:{_ANNOTATION})?"
_COMPONENT = rf"(?:{_ANNOTATION}|{_SIMPLE})"
UCUM_TERM = re.compile(rf"^{_COMPONENT}(?:[./]{_COMPONENT})*$")


def is_ucum(unit: str) -> bool:
    """True when ``unit`` parses as a UCUM term with the atoms listed above."""
    return bool(UCUM_TERM.match(unit))


def rule_count() -> int:
    return (
        len(SPAN_ATTRIBUTES)
        + len(ONLY_UNDER_CONDITION)
        + len(DEPRECATED_ATTRIBUTES)
        + 2  # span kind, span name
        + len(WELL_KNOWN_OPERATIONS)
        + sum(3 + len(m.attributes) + m.streaming_only for m in METRIC_RULES)  # instrument, unit, buckets
        + 1  # custom units are UCUM
    )
