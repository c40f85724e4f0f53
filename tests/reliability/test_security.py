"""Security: no path traversal through tag values, parameterised SQL, private files,
and neither API keys nor prompts anywhere in the store (every byte written is searched)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from melious_impact.records import empty_row

HOSTILE = (
    "../../x",
    "../../../../tmp/melious-escape",
    "/etc/passwd",
    "..",
    "date=1999-01-01/../../y",
    "a\x00b",
    "x' OR '1'='1",
    "'; DROP TABLE requests; --",
    'team" OR 1=1 --',
    "ünïcødé/😀",
    "C:\\Windows\\system32",
)


def need(module: str) -> Any:
    return pytest.importorskip(module, reason=f"{module} is not written yet")


def _row(i: int, team: str, **extra: Any) -> dict[str, Any]:
    row = empty_row()
    row.update(
        captured_at=datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=i),
        endpoint="/v1/chat/completions",
        status_code=200,
        request_id=f"r{i}",
        model="glm-4.7",
        input_tokens=1,
        output_tokens=1,
        billing_credits=Decimal("0.01"),
        billing_paid_with="credits",
        team=team,
        project=team,
        tags=json.dumps({"feature": team, team: "v"}, sort_keys=True),
        record_id=f"{i:032x}",
    )
    row.update(extra)
    return row


def _tree(base: Path) -> set[Path]:
    return {p for p in base.rglob("*")}


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """Permissions must come from the store, not from a friendly umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_tag_values_cannot_write_outside_the_store(
    tmp_path: Path, impact_store_cls: Any, figures: dict[str, Any]
) -> None:
    root = tmp_path / "deep" / "store"
    before = _tree(tmp_path)
    store = impact_store_cls(root)
    rows = [_row(i, team, model=team, endpoint=team, request_id=team) for i, team in enumerate(HOSTILE)]
    writer = store.writer()
    for i, row in enumerate(rows):
        writer.write({**row, "record_id": f"w{i:031x}"})  # live path (journal -> Parquet)
    store.append(rows)  # bulk path
    store.flush()
    created = _tree(tmp_path) - before
    outside = [p for p in created if root not in p.parents and p != root and p not in root.parents]
    assert not outside, f"files created outside the store: {outside}"
    for p in (root / "requests").rglob("*.parquet"):
        assert p.parent.parent == root / "requests" and p.parent.name.startswith("date=2026-"), p
    got = store.to_pandas()
    store.close()
    # values are kept exactly as sent (they are data, not paths)
    assert sorted(got["team"]) == sorted(list(HOSTILE) * 2)
    figures.update(hostile_values=len(HOSTILE), rows=len(got), files_outside=len(outside))


def test_user_filters_are_parameterised(
    tmp_path: Path, impact_store_cls: Any, figures: dict[str, Any]
) -> None:
    store = impact_store_cls(tmp_path / "store")
    rows = [_row(i, team) for i, team in enumerate(HOSTILE)] + [_row(100 + i, "plain") for i in range(5)]
    store.append(rows)
    total = len(rows)
    attempts = 0
    for team in HOSTILE:
        attempts += 1
        got = store.to_pandas(teams=[team])
        assert list(got["team"]) == [team], f"filter on {team!r} returned {len(got)} rows"
    for injection in ("nobody' OR '1'='1", "x') OR TRUE --", "plain'); DROP TABLE requests; --"):
        attempts += 1
        assert len(store.to_pandas(teams=[injection])) == 0
        assert len(store.to_pandas(teams=injection)) == 0
    attempts += 1
    n = store.sql("select count(*) as n from requests where team = ?", ["' OR 1=1 --"])["n"][0]
    assert n == 0
    for bad_bound in ("2026-01-01' OR '1'='1", "1; DROP TABLE requests"):
        attempts += 1
        with pytest.raises((ValueError, TypeError)):
            store.to_pandas(start=bad_bound)
    attempts += 1
    with pytest.raises(ValueError):
        store.to_pandas(columns=["team; DROP TABLE requests"])
    assert store.count() == total  # nothing was dropped or changed
    store.close()
    figures.update(injection_attempts=attempts, rows=total, rows_lost=total - len(rows))


def _modes(root: Path) -> list[tuple[Path, int]]:
    return [(p, stat.S_IMODE(p.stat().st_mode)) for p in [root, *root.rglob("*")]]


def test_store_files_are_private(
    tmp_path: Path, impact_store_cls: Any, umask_zero: None, figures: dict[str, Any]
) -> None:
    root = tmp_path / "store"
    store = impact_store_cls(root)
    writer = store.writer()
    for i in range(50):
        writer.write(_row(i, "t"))
    live = _modes(root)  # while the journal segment is open
    store.append([_row(1000 + i, "u") for i in range(10)])
    store.flush()
    store.compact()
    after = _modes(root)
    store.close()
    leaky = [(str(p), oct(m)) for p, m in live + after if m & 0o077]
    figures.update(paths_checked=len(live) + len(after), world_or_group_accessible=len(leaky))
    assert not leaky, f"group/other can access: {leaky[:10]}"


# ---------------------------------------------------------------- canaries through the SDKs


def _all_text_of_parquet(path: Path) -> str:
    table = pq.read_table(path)
    return json.dumps(table.to_pylist(), default=str, ensure_ascii=False)


def _search_store(root: Path, canaries: list[str]) -> dict[str, Any]:
    """Every byte of every file under root, raw and (for Parquet) decoded."""
    hits: list[str] = []
    files = 0
    size = 0
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        files += 1
        data = p.read_bytes()
        size += len(data)
        for canary in canaries:
            for form in (canary.encode(), canary.encode("utf-16-le"), canary[::-1].encode()):
                if form in data:
                    hits.append(f"{p.relative_to(root)}: raw {canary[:20]}")
        if p.suffix == ".parquet" and data[-4:] == b"PAR1":
            text = _all_text_of_parquet(p)
            hits.extend(f"{p.relative_to(root)}: decoded {c[:20]}" for c in canaries if c in text)
    return {"hits": hits, "files": files, "bytes": size}


def test_no_keys_or_prompts_anywhere_in_the_store(
    tmp_path: Path, impact_store_cls: Any, figures: dict[str, Any]
) -> None:
    mi = need("melious_impact")
    need("melious_impact.capture.recorder")
    openai = pytest.importorskip("openai")
    anthropic = pytest.importorskip("anthropic")
    server = need("melious_impact.emulator.server")

    token = uuid.uuid4().hex
    key = f"sk-mel-CANARY{token}"
    prompt = f"PROMPT-CANARY{token}"
    header = f"HEADER-CANARY{token}"
    canaries = [key, prompt, header, token]
    root = tmp_path / "store"
    store = impact_store_cls(root)
    rec = mi.Recorder(store, tags={"team": "sec"})
    calls = 0
    searches: list[dict[str, Any]] = []
    with server.serve(seed=3) as base_url:
        headers = {"X-Custom-Secret": header}
        oa = openai.OpenAI(
            base_url=base_url + "/v1", api_key=key, http_client=rec.http_client(), default_headers=headers
        )
        msgs = [{"role": "user", "content": prompt}]
        oa.chat.completions.create(model="glm-4.7", messages=msgs, max_tokens=16)
        stream = oa.chat.completions.create(
            model="glm-4.7", messages=msgs, max_tokens=16, stream=True, stream_options={"include_usage": True}
        )
        for _ in stream:
            pass
        oa.embeddings.create(model="bge-m3", input=[prompt, prompt])
        with pytest.raises(openai.APIStatusError):
            oa.chat.completions.create(model="no-such-model", messages=msgs, max_tokens=4)
        calls += 4
        with mi.tags(team="../../escape", feature=prompt[:5]):
            oa.chat.completions.create(model="glm-4.7", messages=msgs, max_tokens=4)
            calls += 1

        an = anthropic.Anthropic(
            base_url=base_url, api_key=key, http_client=rec.http_client(), default_headers=headers
        )
        an.messages.create(model="glm-4.7", max_tokens=16, messages=[{"role": "user", "content": prompt}])
        with an.messages.stream(
            model="glm-4.7", max_tokens=16, messages=[{"role": "user", "content": prompt}]
        ) as s:
            for _ in s.text_stream:
                pass
        calls += 2

        async def async_calls() -> None:
            aoa = openai.AsyncOpenAI(
                base_url=base_url + "/v1", api_key=key, http_client=rec.async_http_client()
            )
            await aoa.chat.completions.create(model="glm-4.7", messages=msgs, max_tokens=8)
            await aoa.close()

        asyncio.run(async_calls())
        calls += 1
        oa.close()
        an.close()
        searches.append(_search_store(root, canaries))  # journal phase: rows not yet in Parquet
        rec.flush()
        searches.append(_search_store(root, canaries))
    rec.close()
    store.close()
    searches.append(_search_store(root, canaries))
    frame = impact_store_cls(root).to_pandas()
    hits = [h for s in searches for h in s["hits"]]
    figures.update(
        sdk_calls=calls,
        rows=len(frame),
        files_searched=sum(s["files"] for s in searches),
        bytes_searched=sum(s["bytes"] for s in searches),
        canary_hits=len(hits),
    )
    assert not hits, f"secrets found in the store: {hits[:10]}"
    assert len(frame) >= calls - 1  # the rows are there (so the search looked at real data)
    assert "../../escape" in set(frame["team"])
    assert all(root in p.parents for p in root.rglob("*"))
