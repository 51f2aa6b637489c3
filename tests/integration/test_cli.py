"""The command line as a user runs it: demo data, explained evaluations, refusals."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from api.schemas import EvaluationOut
from credit_ledger.bootstrap import open_ledger
from credit_ledger.bulk import checkpoint_key, generate, has_checkpoint
from credit_ledger.cli import IMPORT_BYTES_PER_WORKER
from tests.support import uscc

CLI = shutil.which("credit-ledger", path=str(Path(sys.executable).parent)) or "credit-ledger"


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CREDIT_LEDGER_DATABASE_URL": url, "COLUMNS": "160"}
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def start(url: str, *args: str) -> subprocess.Popen[bytes]:
    """A command started in the background (to be killed midway), its output discarded."""
    env = {**os.environ, "CREDIT_LEDGER_DATABASE_URL": url}
    return subprocess.Popen(
        [CLI, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_demo_then_evaluate_prints_an_explained_grade(store_url: str) -> None:
    loaded = run(store_url, "demo", "--subjects", "60", "--seed", "7")
    assert loaded.returncode == 0, loaded.stderr
    samples = dict(re.findall(r"^\s+(\w+): (\w{18})$", loaded.stdout, re.M))
    assert {"clean", "many_records"} <= set(samples)

    shown = run(store_url, "evaluate", samples["many_records"], "--as-of", "2023-10-31")
    assert shown.returncode == 0, shown.stderr
    assert "as of 2023-10-31" in shown.stdout
    assert re.search(r"score \d+(\.\d+)?\s+grade [优良中差]", shown.stdout)

    as_json = run(store_url, "evaluate", samples["clean"], "--as-of", "2023-10-31", "--json")
    answer = orjson.loads(as_json.stdout)
    assert (answer["score"], answer["grade"], answer["contributions"]) == ("80", "良", [])
    assert answer["model"] == "PCCE-2021"
    # The same answer, byte for byte, as the API gives it (one JSON shape: record time in CST).
    known_at = answer["known_at"]
    assert known_at.endswith("+08:00")
    pinned = run(
        store_url,
        "evaluate",
        samples["many_records"],
        "--as-of",
        "2023-10-31",
        "--known-at",
        known_at,
        "--json",
    )
    ledger = open_ledger(store_url)
    try:
        served = EvaluationOut.of(
            ledger.evaluate(
                samples["many_records"],
                as_of=date(2023, 10, 31),
                known_at=datetime.fromisoformat(known_at),
            )
        ).model_dump(mode="json")
    finally:
        ledger.close()
    assert orjson.loads(pinned.stdout) == served

    again = run(store_url, "demo", "--subjects", "60", "--seed", "7")
    assert again.returncode == 0
    assert "nothing was written" in again.stdout


def test_an_invalid_credit_code_is_refused_naming_the_field(tmp_path: Path) -> None:
    shown = run(f"sqlite:///{tmp_path}/x.db", "evaluate", "91350100M000100Y4A")
    assert shown.returncode == 2
    assert "uscc" in shown.stderr
    assert "check character" in shown.stderr


def test_a_naive_known_at_is_refused(tmp_path: Path) -> None:
    shown = run(
        f"sqlite:///{tmp_path}/x.db",
        "evaluate",
        "91350100M000100Y43",
        "--known-at",
        "2023-11-01T00:00:00",
    )
    assert shown.returncode == 2
    assert "--known-at" in shown.stderr


def test_an_unsupported_database_url_is_explained(tmp_path: Path) -> None:
    shown = run("mysql://localhost/x", "evaluate", "91350100M000100Y43")
    assert shown.returncode == 2
    assert "CREDIT_LEDGER_DATABASE_URL" in shown.stderr


def test_the_credit_codes_the_readme_shows_are_those_the_default_demo_prints(
    tmp_path: Path,
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Using it") : readme.index("### Read models")]
    shown = set(re.findall(r"\b[0-9]{8}[0-9A-Z]{10}\b", section))
    assert shown
    loaded = run(f"sqlite:///{tmp_path}/default.db", "demo")
    printed = set(re.findall(r"^\s+\w+: (\w{18})$", loaded.stdout, re.M))
    assert shown <= printed, shown - printed


def test_a_department_draws_from_the_demo_and_anyone_verifies_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/draw.db"
    assert run(url, "demo", "--subjects", "120").returncode == 0
    drawn = run(url, "draw", "food", "--as-of", "2025-06-01", "--seed", "舞钢-2025-06")
    assert drawn.returncode == 0, drawn.stderr
    draw_id = re.search(r"draw ([0-9a-f-]{36})", drawn.stdout).group(1)  # type: ignore[union-attr]
    assert "intensified" in drawn.stdout or "regular" in drawn.stdout
    as_csv = run(url, "draw", "food", "--as-of", "2025-06-01", "--seed", "舞钢-2025-06", "--csv")
    rows = as_csv.stdout.strip().splitlines()
    assert rows[0] == "uscc,grade,tier,inspectors"
    assert {r.split(",")[0] for r in rows[1:]} == set(re.findall(r"│ (\w{18}) │", drawn.stdout))
    verified = run(url, "verify-draw", draw_id)
    assert verified.returncode == 0
    assert "verified" in verified.stdout
    refused = run(url, "draw", "fishing", "--as-of", "2025-06-01")
    assert refused.returncode == 2
    assert "field" in refused.stderr


def test_worker_processes_are_refused_for_an_in_memory_store_naming_the_option(
    tmp_path: Path,
) -> None:
    line = {
        "at": "2024-01-02T10:00:00+08:00",
        "command": "register_subject",
        "args": {"uscc": uscc(1), "name": "n", "kind": "enterprise", "fields": ["food"]},
    }
    path = tmp_path / "one.ndjson"
    path.write_bytes(orjson.dumps(line) + b"\n")
    for args in (["import", str(path)], ["rebuild"]):
        refused = run("sqlite:///:memory:", *args, "--workers", "2")
        assert refused.returncode == 2
        assert "--workers" in refused.stderr
        assert "in-memory" in refused.stderr
    alone = run("sqlite:///:memory:", "import", str(path))  # one process by default there
    assert alone.returncode == 0, alone.stderr
    assert "1 applied" in alone.stdout


def test_a_small_file_is_imported_by_one_process_unless_more_are_asked_for(
    tmp_path: Path,
) -> None:
    # Worker start-up costs more than a small file's import: the default is one process per
    # IMPORT_BYTES_PER_WORKER of file, so this file's checkpoint is the one-process key.
    path = tmp_path / "small.ndjson"
    with path.open("wb") as fh:
        generate(20, 3, fh, date(2026, 11, 26))
    assert path.stat().st_size < IMPORT_BYTES_PER_WORKER
    url = f"sqlite:///{tmp_path}/small.db"
    assert run(url, "import", str(path), "--keep-record-time").returncode == 0
    ledger = open_ledger(url)
    try:
        assert has_checkpoint(ledger, checkpoint_key(path))
        assert not has_checkpoint(ledger, checkpoint_key(path, 0, 2))
    finally:
        ledger.close()
    asked = f"sqlite:///{tmp_path}/asked.db"
    assert run(asked, "import", str(path), "--workers", "2").returncode == 0
    ledger = open_ledger(asked)
    try:
        assert not has_checkpoint(ledger, checkpoint_key(path))
        assert has_checkpoint(ledger, checkpoint_key(path, 0, 2))
    finally:
        ledger.close()


def test_a_command_on_a_store_that_cannot_be_reached_says_so_in_one_line_and_exits_75() -> None:
    # Nothing listens on port 1: the connection is refused, as when the server is down.
    started = time.monotonic()
    done = run("postgresql://postgres@127.0.0.1:1/test", "evaluate", uscc(1))
    assert time.monotonic() - started < 10
    assert done.returncode == 75, done.stderr
    assert "Traceback" not in done.stderr
    assert "store does not answer" in done.stderr


def test_every_commands_help_shows_the_bracketed_words_of_its_text() -> None:
    """Help is rendered as rich markup, where `[erased]` would read as a style and vanish."""
    import typer.main
    from typer.testing import CliRunner

    from credit_ledger.cli import app

    def commands(group: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = [path]
        if hasattr(group, "commands"):  # a group (Typer's own, not click's, in Typer 0.29)
            for name, sub in group.commands.items():
                found += commands(sub, (*path, name))
        return found

    root = typer.main.get_command(app)
    runner = CliRunner()
    checked = 0
    for path in commands(root, ()):
        command: Any = root
        for name in path:
            command = command.commands[name]
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        words = {w.replace("\\[", "[") for t in texts for w in re.findall(r"\\?\[[^\]\s]+\]", t)}
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "400"})
        assert shown.exit_code == 0, (path, shown.output)
        for word in words:
            assert word in shown.output, (path, word)
            checked += 1
    assert checked >= 1
