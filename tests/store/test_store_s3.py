"""The store on S3 (a real moto server on loopback): writers, readers, recovery, compaction."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest
from store_support import back_to_back_compactions, child, make_row

from melious_impact.store.impact_store import ImpactStore
from melious_impact.store.remote import s3_kwargs

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    moto_server = pytest.importorskip("moto.server")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    opts = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": f"http://{host}:{port}", "region_name": "us-east-1"},
    }
    fs = pafs.S3FileSystem(**s3_kwargs(opts), allow_bucket_creation=True)
    fs.create_dir("impact")
    yield {"opts": opts, "fs": fs}
    srv.stop()


def _store(s3: dict[str, Any], prefix: str, spool: Path, **kw: Any) -> ImpactStore:
    return ImpactStore(f"s3://impact/{prefix}", storage_options=s3["opts"], spool_dir=spool, **kw)


def test_write_read_round_trip(s3: dict[str, Any], tmp_path: Path) -> None:
    s = _store(s3, "rt", tmp_path / "spool", flush_interval_s=3600)
    w = s.writer()
    for i in range(50):
        w.write(make_row(i, "s3"))
    s.flush()
    assert s.append([make_row(i, "bulk", day=1) for i in range(20)]) == 20
    local = ImpactStore(tmp_path / "local")
    local.append([make_row(i, "s3") for i in range(50)] + [make_row(i, "bulk", day=1) for i in range(20)])
    cols = [c for c in local.to_pandas().columns if c != "record_id"]
    a = s.to_pandas(columns=cols).reset_index(drop=True)
    b = local.to_pandas(columns=cols).reset_index(drop=True)
    assert a.equals(b)
    keys = [
        i.path
        for i in s3["fs"].get_file_info(pafs.FileSelector("impact/rt", recursive=True))
        if i.type == pafs.FileType.File
    ]
    assert all("/requests/date=2026-03-0" in k for k in keys)
    s.close()
    assert not list((tmp_path / "spool" / "_journal").glob("*.seg"))  # spool emptied


def test_many_hosts_write_one_prefix_without_coordination(s3: dict[str, Any], tmp_path: Path) -> None:
    stores = [
        _store(s3, "multi", tmp_path / f"host{h}", flush_interval_s=0.05, buffer_rows=40) for h in range(3)
    ]

    def work(h: int) -> None:
        w = stores[h].writer()
        for i in range(200):
            w.write(make_row(i, f"h{h}"))

    ts = [threading.Thread(target=work, args=(h,)) for h in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for s in stores:
        s.close()
    reader = _store(s3, "multi", tmp_path / "reader")
    ids = reader.sql("SELECT request_id FROM requests")["request_id"]
    assert len(ids) == 600 and ids.is_unique
    res = reader.compact()
    assert res["files_deleted"] == res["files_merged"] > 1
    assert len(reader) == 600


def test_sigkill_with_remote_root_recovers_from_local_spool(s3: dict[str, Any], tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    env = {"MI_TEST_STORAGE_OPTIONS": json.dumps(s3["opts"]), "MI_TEST_SPOOL": str(spool)}
    p = child("write-and-wait", "s3://impact/killed", 300, 2, "rk", env=env)
    assert p.stdout is not None and p.stdout.readline().strip() == "READY"
    os.kill(p.pid, signal.SIGKILL)
    p.communicate(timeout=30)
    s = _store(s3, "killed", spool)  # same spool: recovery uploads the journal
    ids = s.sql("SELECT request_id FROM requests")["request_id"]
    assert len(ids) == 600 and ids.is_unique
    s.close()


def test_damaged_object_is_quarantined(s3: dict[str, Any], tmp_path: Path) -> None:
    s = _store(s3, "dmg", tmp_path / "spool")
    s.append([make_row(i, "a") for i in range(10)])
    s.append([make_row(i, "b", day=1) for i in range(10)])
    (victim,) = [
        i.path for i in s3["fs"].get_file_info(pafs.FileSelector("impact/dmg/requests/date=2026-03-02"))
    ]
    with s3["fs"].open_output_stream(victim) as out:
        out.write(b"not parquet at all")
    assert len(_store(s3, "dmg", tmp_path / "spool")) == 10
    assert s3["fs"].get_file_info(victim).type == pafs.FileType.NotFound
    assert s3["fs"].get_file_info(pafs.FileSelector("impact/dmg/_quarantine", recursive=True))


def test_storage_option_spellings() -> None:
    assert s3_kwargs({"key": "a", "secret": "b", "endpoint_url": "http://127.0.0.1:9000"}) == {
        "access_key": "a",
        "secret_key": "b",
        "endpoint_override": "127.0.0.1:9000",
        "scheme": "http",
    }
    assert s3_kwargs({"client_kwargs": {"region_name": "eu-west-3"}, "anon": True}) == {
        "region": "eu-west-3",
        "anonymous": True,
    }
    with pytest.raises(ValueError, match="unsupported S3 storage option"):
        s3_kwargs({"bogus": 1})
    with pytest.raises(ValueError, match="local folders"):
        ImpactStore("/tmp/x-never-created", storage_options={"key": "a"})


def test_background_compaction_on_object_storage(s3: dict[str, Any], tmp_path: Path) -> None:
    s = _store(s3, "auto", tmp_path / "spool", flush_interval_s=3600, auto_compact_files=4)
    reader = _store(s3, "auto", tmp_path / "spool-reader", auto_compact_files=None)
    w = s.writer()
    counts = []
    for i in range(24):
        w.write(make_row(i, "nb"))
        s.flush()
        n, distinct = reader.sql("select count(*), count(distinct request_id) from requests").iloc[0]
        assert n == distinct == i + 1  # each flushed row at once, and once
        counts.append(len(reader._catalog.snapshot()))
    s.close()  # waits for the compaction it was asked for
    assert s._compactor is not None and s._compactor.runs >= 3
    assert max(counts) <= 8 and len(reader._catalog.snapshot()) < 4
    assert sorted(reader.to_pandas()["request_id"]) == sorted(f"nb-{i}" for i in range(24))
    assert (tmp_path / "spool" / "_locks" / "compact.lock").exists()  # the host's lock, in the spool


def test_object_storage_does_not_compact_by_default(s3, tmp_path: Path) -> None:
    # Hosts sharing a bucket cannot lock each other out: compaction there is opt-in, on one host.
    store = _store(s3, "default-off", tmp_path / "spool", flush_interval_s=3600)
    local = ImpactStore(tmp_path / "local")
    try:
        assert store._compactor is None
        assert local._compactor is not None
    finally:
        store.close()
        local.close()


def test_a_reader_on_another_host_outlasts_back_to_back_compactions(
    s3: dict[str, Any], tmp_path: Path
) -> None:
    # The compacting host cannot see this reader's lease (another spool: another host), so
    # files it listed vanish under it again and again; it lists again until a read holds.
    host = _store(s3, "churn", tmp_path / "host-a", auto_compact_files=None)
    for k in range(3):
        host.append([make_row(i, f"c{k}", day=k % 2) for i in range(20)])
    reader = _store(s3, "churn", tmp_path / "host-b", auto_compact_files=None)
    reads = []
    deadline = time.monotonic() + 60
    with back_to_back_compactions(host) as churn:  # read until the churn made some reads list again
        while (churn.passes < 20 or not reader.stats.get("read_retries")) and time.monotonic() < deadline:
            reads.append(reader.sql("SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM requests"))
    retries = reader.stats.get("read_retries", 0)
    print(f"other-host churn: passes={churn.passes} reads={len(reads)} read_retries={retries}")
    assert churn.passes >= 20 and retries >= 1
    assert all(int(r["n"].iloc[0]) == int(r["d"].iloc[0]) == 60 for r in reads)
