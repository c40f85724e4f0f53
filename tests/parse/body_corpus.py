"""A corpus of small JSON response bodies: usual ones and every unusual value parsing meets.

``CLEAN``: bodies parsed without a warning; ``UNUSUAL``: bodies with something the parse
functions must decide about; :func:`bodies`: random bodies drawn from pools of usual and
unusual values (a hypothesis strategy).
"""

from __future__ import annotations

import json
from typing import Any

from api_keys import BILLING_KEYS, IMPACT_KEYS
from hypothesis import strategies as st

IMPACT = {
    "energy_kwh": 0.00015,
    "carbon_g_co2": 0.06,
    "water_liters": 0.0002,
    "renewable_percent": 85,
    "pue": 1.18,
    "provider_id": "ovhcloud",
    "location": "FR",
}
BILLING = {"energy": "0.0008", "credits": "0.00000008", "paid_with": "energy"}
USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 9,
    "total_tokens": 21,
    "prompt_tokens_details": {"cached_tokens": 0},
}


def chat(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "glm-4.7",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": dict(USAGE),
        "environment_impact": dict(IMPACT),
        "billing_cost": dict(BILLING),
    }
    for k, v in over.items():
        if v is _DROP:
            body.pop(k, None)
        else:
            body[k] = v
    return body


_DROP = object()

# Bodies parsed without a warning, as JSON text: numbers and numbers-as-strings.
CLEAN: list[str] = [
    json.dumps(chat()),
    json.dumps(chat(usage={"prompt_tokens": 5, "completion_tokens": 0})),
    json.dumps(chat(environment_impact={k: str(v) for k, v in IMPACT.items()})),  # numbers as strings
    json.dumps(chat(billing_cost={"energy": 0.0008, "credits": 8e-08, "paid_with": "energy"})),  # numbers
    '{"id":"x","object":"chat.completion","model":"m","billing_cost":{"energy":0.10,"credits":1}}',
    '{"id":"x","object":"chat.completion","billing_cost":{"energy":"123456789012.000000000000000001"}}',
    '{"id":"x","object":"chat.completion","billing_cost":{"energy":1E-18,"credits":"5e-3"}}',
    json.dumps(chat(environment_impact=_DROP, billing_cost=_DROP)),  # missing blocks
    json.dumps(chat(usage=_DROP)),
    json.dumps(chat(environment_impact=None, billing_cost=None, usage=None, id=None, model=None)),
    json.dumps(chat(environment_impact={"energy_kwh": 0.001})),  # partial block
    json.dumps(chat(billing_cost={"paid_with": "credits"})),
    json.dumps(chat(environment_impact={"energy_kwh": "0", "pue": 1, "renewable_percent": 100})),
    json.dumps(chat(environment_impact={"energy_kwh": -0.0})),  # -0 is a zero
    # Anthropic message with cache tokens (added back to input_tokens)
    json.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude",
            "content": [{"type": "text", "text": "Hi"}],
            "usage": {
                "input_tokens": 10,
                "output_tokens": 3,
                "cache_read_input_tokens": 4,
                "cache_creation_input_tokens": 2,
            },
            "environment_impact": IMPACT,
        }
    ),
    json.dumps(
        {"object": "list", "data": [], "model": "e5", "usage": {"prompt_tokens": 7, "total_tokens": 7}}
    ),
    json.dumps({"object": "list", "data": [], "model": "e5", "usage": {"total_tokens": 7}}),  # input_only
    json.dumps(chat(usage={**USAGE, "completion_tokens_details": {"reasoning_tokens": 4}})),
    json.dumps(
        chat(usage={"input_tokens": 3, "output_tokens": 2, "input_tokens_details": {"cached_tokens": 1}})
    ),
    json.dumps(
        {"results": [], "usage": {"total_tokens": 4}, "environment_impact": IMPACT}
    ),  # rerank, shape_of
    json.dumps({"results": [], "environment_impact": IMPACT}),
    "{}",
]

# Bodies with something unusual the parse functions must decide about.
UNUSUAL: list[str] = [
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":NaN,"carbon_g_co2":1}}',
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":Infinity}}',
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":"NaN","water_liters":-Infinity}}',
    '{"id":"x","object":"chat.completion","billing_cost":{"energy":NaN,"credits":"Infinity"}}',
    '{"id":"x","object":"chat.completion","billing_cost":{"energy":"-0.5","credits":"-0"}}',
    '{"id":"x","object":"chat.completion","billing_cost":{"energy":-1}}',
    '{"id":"x","object":"chat.completion","billing_cost":{"energy":"0.1234567890123456789"}}',  # rounded
    '{"id":"x","object":"chat.completion","billing_cost":{"energy":1e30}}',  # too large
    '{"id":"x","object":"chat.completion","billing_cost":{"energy":" 0.5 ","credits":true}}',
    '{"id":"x","object":"chat.completion","billing_cost":{"energy":null,"credits":null}}',  # unusable
    '{"id":"x","object":"chat.completion","billing_cost":{"paid_with":"' + "p" * 65 + '"}}',
    '{"id":"x","object":"chat.completion","billing_cost":[1,2]}',
    '{"id":"x","object":"chat.completion","environment_impact":"high"}',
    '{"id":"x","object":"chat.completion","environment_impact":{}}',
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":-0.1,"carbon_g_co2":0.2}}',
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":0.1,"pue":0.9}}',
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":0.1,"renewable_percent":101}}',
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":true}}',
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":1,"location":42}}',
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":1,"provider_id":" p "}}',
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":"1_0","pue":"1e999"}}',
    '{"id":"x","object":"chat.completion","environment_impact":{"energy_kwh":' + "9" * 400 + "}}",
    '{"id":"x","object":"chat.completion","usage":{"prompt_tokens":-1,"completion_tokens":"7"}}',
    '{"id":"x","object":"chat.completion","usage":{"prompt_tokens":"12","completion_tokens":9.0}}',
    '{"id":"x","object":"chat.completion","usage":{"prompt_tokens":1.5,"completion_tokens":1e3}}',
    '{"id":"x","object":"chat.completion","usage":{"prompt_tokens":9223372036854775808}}',
    '{"id":"x","object":"chat.completion","usage":{"prompt_tokens":true}}',
    '{"id":"x","object":"chat.completion","usage":"lots"}',
    '{"id":"x","object":"chat.completion","usage":{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":-2}}}',
    '{"id":"x","object":"chat.completion","usage":{"input_tokens":1,"cache_creation_input_tokens":"x"}}',
    '{"object":"list","usage":{"total_tokens":"many"}}',
    '{"id":12345,"object":"chat.completion","model":""}',
    '{"id":" padded ","model":"' + "m" * 300 + '"}',
    '{"id":["x"],"model":{"name":"m"}}',
    '{"error":{"code":null,"type":"invalid_request_error","message":"secret prompt"}}',
    '{"error":{"code":"INFERENCE_3207","type":"x"},"environment_impact":{"energy_kwh":0.1}}',
    '{"error":"text only"}',
    '{"type":"error","error":{"type":"overloaded_error","message":"m"}}',
    '{"meta":{"billed_units":{"input_tokens":3}},"results":[]}',
    '{"id":"x","data":{"environment_impact":{"energy_kwh":0.5},"billing_cost":{"energy":"1"}}}',  # nested
    '{"id":"x","wrapper":{"billing_cost":{"energy":"1"}}}',
    '{"id":"x","wrapper":{"environment_impact":null,"billing_cost":null}}',
    "[1, 2, 3]",
    '"just a string"',
    '{"id":"x","object":"chat.completion"',  # cut short: salvage path
]


# Random bodies: each field drawn from a pool of usual and unusual values.
_NUM = st.sampled_from(
    [
        0,
        1,
        12,
        -1,
        2**63,
        0.5,
        -0.0,
        1e-18,
        1e30,
        "7",
        " 7",
        "0.0008",
        "-3",
        "NaN",
        "1e999",
        "",
        "x",
        True,
        None,
        [],
        {},
    ]
)
_NUM_TEXT = st.sampled_from(["NaN", "Infinity", "-Infinity", "0.10", "1.0000000000000000001", "1E+2", "-0"])
_STR = st.sampled_from(["a", "", " a", "x" * 300, 3, None, True, ["a"]])


@st.composite
def bodies(draw: st.DrawFn) -> str:
    def block(keys: tuple[str, ...], values: st.SearchStrategy[Any]) -> Any:
        if draw(st.integers(0, 9)) == 0:
            return draw(st.sampled_from([None, "text", 3, []]))
        return {k: draw(values) for k in keys if draw(st.booleans())}

    body: dict[str, Any] = {}
    for key in ("id", "model", "object", "type"):
        if draw(st.booleans()):
            body[key] = (
                draw(_STR) if key in ("id", "model") else draw(st.sampled_from(["message", "list", "error"]))
            )
    if draw(st.booleans()):
        body["usage"] = block(
            (
                "prompt_tokens",
                "completion_tokens",
                "input_tokens",
                "output_tokens",
                "total_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ),
            _NUM,
        )
        if isinstance(body["usage"], dict) and draw(st.booleans()):
            body["usage"]["prompt_tokens_details"] = {"cached_tokens": draw(_NUM)}
    if draw(st.booleans()):
        body["environment_impact"] = block(IMPACT_KEYS, _NUM)
    if draw(st.booleans()):
        body["billing_cost"] = block(BILLING_KEYS, _NUM)
    if draw(st.integers(0, 5)) == 0:
        body[draw(st.sampled_from(["error", "meta", "nested"]))] = {
            "code": draw(_STR),
            "environment_impact": {"energy_kwh": draw(_NUM)},
        }
    text = json.dumps(body, allow_nan=True)
    # Swap in raw lexemes JSON numbers can have but Python's dumps never writes.
    if isinstance(body.get("billing_cost"), dict) and body["billing_cost"].get("energy") == 0.5:
        text = text.replace('"energy": 0.5', '"energy": ' + draw(_NUM_TEXT), 1)
    return text
