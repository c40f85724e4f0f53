"""The store commands: help text everywhere, and each command end to end."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from store_support import make_row

from melious_impact.cli import store_cmds
from melious_impact.store.impact_store import ImpactStore

COMMANDS = ("path", "info", "import", "export", "compact", "rebuild", "retention", "recover")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="melious-impact")
    store_cmds.register(parser.add_subparsers(dest="command"))
    return parser


def _run(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return int(args.func(args))


def test_every_command_and_option_has_help() -> None:
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert set(COMMANDS) <= set(helps)
    for name in COMMANDS:
        assert helps[name], name
        for action in sub.choices[name]._actions:
            assert action.help, f"{name} {action.option_strings or action.dest}"


def test_path_prints_the_env_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MELIOUS_IMPACT_HOME", str(tmp_path / "here"))
    assert _run("path") == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "here")


def test_commands_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = ImpactStore(tmp_path / "src")
    for d in range(3):
        src.append([make_row(i, f"x{d}", day=d) for i in range(10)])
    store = str(tmp_path / "dst")
    assert (
        _run("export", "--store", str(tmp_path / "src"), str(tmp_path / "out.csv"), "--team", "search") == 0
    )
    assert "wrote 30 rows" in capsys.readouterr().out
    assert _run("import", "--store", store, str(tmp_path / "out.csv")) == 0
    assert "imported 30 rows" in capsys.readouterr().out
    assert _run("import", "--store", store, str(tmp_path / "out.csv")) == 0
    assert "imported 0 rows" in capsys.readouterr().out
    assert _run("info", "--store", store, "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"] == 30 and info["first_date"] == "2026-03-01" and info["last_date"] == "2026-03-03"
    assert info["stats"]["rows_dropped"] == 0
    assert _run("compact", "--store", store) == 0
    assert "files_merged=" in capsys.readouterr().out
    assert _run("recover", "--store", store) == 0
    assert "recovered 0 rows" in capsys.readouterr().out
    assert _run("retention", "--store", store, "--max-age-days", "0") == 0
    assert "dropped 3 partition(s)" in capsys.readouterr().out
    assert _run("info", "--store", store) == 0
    assert "rows               0" in capsys.readouterr().out


def test_bad_storage_option_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KEY=VALUE"):
        _run("info", "--store", "s3://b/p", "--storage-option", "novalue")


def test_import_batch_output_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("melious_impact.parse.batch")
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "m",
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    line = {"id": "batch_req_1", "custom_id": "c1", "response": {"status_code": 200, "body": body}}
    path = tmp_path / "out.jsonl"
    path.write_text(json.dumps(line) + "\n")
    store = str(tmp_path / "s")
    for expected in ("imported 1 rows", "imported 0 rows"):
        assert _run("import", "--store", store, "--batch-output", "--batch-id", "b1", str(path)) == 0
        assert expected in capsys.readouterr().out
