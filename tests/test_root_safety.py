"""An experiment root may be shared, copied, downloaded, half-restored, damaged or on a
read-only mount (issue 15): hpcore writes nothing outside it, loses nothing in it, and
says what is wrong in one line. Real files, real SQLite, the real command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import hpcore
from hpcore import GridSearch, HpcoreError
from hpcore.errors import SearchError
from hpcore.storage import Storage, StudyDamagedError

COMMANDS = [("status",), ("best",), ("report",), ("compare",)]


def _study(root: Path, values=(1, 2, 3)) -> GridSearch:
    search = GridSearch({"x": 0}, {"x": list(values)})
    search.run(lambda c: c["x"], experiment_root=root, verbose=0)
    return search


def _hpcore(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hpcore", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def _listing(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): (p.lstat().st_size if not p.is_dir() else -1)
            for p in sorted(root.rglob("*"))}


# -- nothing written outside the root ---------------------------------------------------


def test_a_lock_file_linked_outside_is_refused_and_its_target_untouched(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "precious.txt"
    _study(root)
    outside.write_text("do not truncate me")
    (root / ".hpcore.lock").unlink()
    (root / ".hpcore.lock").symlink_to(outside)
    with pytest.raises(HpcoreError, match="is a symbolic link"):
        _study(root, values=(1, 2, 3, 4))
    assert outside.read_text() == "do not truncate me"
    assert hpcore.load(root).counts() == {"completed": 3}  # readers still work


def test_a_fifo_in_place_of_the_lock_hangs_nothing(tmp_path):
    root = tmp_path / "root"
    _study(root)
    (root / ".hpcore.lock").unlink()
    os.mkfifo(root / ".hpcore.lock")
    out = _hpcore("status", root)  # a hang fails on the timeout instead of blocking
    assert out.returncode == 0, out.stderr
    assert "driver    not running" in out.stdout
    with pytest.raises(HpcoreError, match="is not a regular file"):
        _study(root, values=(1, 2, 3, 4))


def test_a_best_link_pointing_outside_the_root_is_replaced_on_resume(tmp_path):
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere" / "trials" / "00000"
    _study(root)
    elsewhere.mkdir(parents=True)
    (root / "best").unlink()
    (root / "best").symlink_to(elsewhere)  # same last component as the real best
    _study(root)  # resumes: nothing to run, the link is checked
    assert os.readlink(root / "best") == os.path.join("trials", "00000")
    assert Path(os.path.realpath(root / "best")) == (root / "trials" / "00000").resolve()


def test_a_database_or_trials_folder_linked_outside_is_not_written_through(tmp_path):
    root, other = tmp_path / "root", tmp_path / "other"
    _study(other)
    root.mkdir()
    (root / "hpcore.db").symlink_to(other / "hpcore.db")
    before = (other / "hpcore.db").read_bytes()
    with pytest.raises(HpcoreError, match="is a symbolic link"):
        _study(root, values=(1, 2, 3, 4))
    assert (other / "hpcore.db").read_bytes() == before

    root2, outside = tmp_path / "root2", tmp_path / "outside-trials"
    outside.mkdir()
    root2.mkdir()
    (root2 / "trials").symlink_to(outside)
    with pytest.raises(Exception, match="symbolic link"):
        _study(root2)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("side", ["-wal", "-shm", "-journal"])
def test_a_database_side_file_linked_outside_is_refused(tmp_path, side):
    root, outside = tmp_path / "root", tmp_path / "precious.bin"
    _study(root)
    outside.write_bytes(b"keep")
    (root / f"hpcore.db{side}").unlink(missing_ok=True)
    (root / f"hpcore.db{side}").symlink_to(outside)
    with pytest.raises(HpcoreError, match=f"hpcore.db{side}' is a symbolic link"):
        _study(root, values=(1, 2, 3, 4))
    with pytest.raises(HpcoreError, match="is a symbolic link"):
        hpcore.load(root)
    assert outside.read_bytes() == b"keep"


# -- nothing lost -------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["missing", "empty"])
def test_trial_folders_without_their_database_are_not_overwritten(tmp_path, how):
    root = tmp_path / "root"
    _study(root)
    folders = _listing(root / "trials")
    db = root / "hpcore.db"
    for side in ("-wal", "-shm"):
        Path(str(db) + side).unlink(missing_ok=True)
    if how == "missing":
        db.unlink()
    else:
        db.write_bytes(b"")
    with pytest.raises(SearchError) as info:
        _study(root, values=(7, 8, 9))
    msg = str(info.value)
    assert f"holds 3 trial folder(s) but the study database {db} is {how}" in msg
    assert "resume=False" in msg and "Restore the database" in msg
    assert _listing(root / "trials") == folders  # untouched, nothing created
    assert db.exists() == (how == "empty")
    # Discarding them is a choice the user makes.
    search = GridSearch({"x": 0}, {"x": [7, 8, 9]})
    search.run(lambda c: c["x"], experiment_root=root, resume=False, verbose=0)
    assert hpcore.load(root).best_value == 7


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_is_one_clear_error_from_the_api_and_every_command(tmp_path, damage):
    root = tmp_path / "root"
    _study(root, values=range(40))
    db = root / "hpcore.db"
    data = db.read_bytes()
    if damage == "garbage":
        db.write_bytes(b"this is not a database, it was overwritten by mistake" * 100)
    else:
        db.write_bytes(data[: len(data) // 2])
    for call in (lambda: hpcore.load(root), lambda: _study(root, values=range(41))):
        with pytest.raises(StudyDamagedError, match=f"'{db}' is damaged or is not an hpcore"):
            call()
    for command in ("status", "best", "report", "compare"):
        args = (command, root, root) if command == "compare" else (command, root)
        out = _hpcore(*args)
        assert out.returncode == 1, (command, out.stdout, out.stderr)
        assert out.stderr.startswith(f"hpcore {command}: error: '{db}' is damaged"), out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1


def test_a_root_that_is_a_file_and_a_spec_that_is_not_utf8_are_one_line_errors(tmp_path):
    not_a_root = tmp_path / "results.txt"
    not_a_root.write_text("not a folder")
    with pytest.raises(HpcoreError, match="is a file, not a folder"):
        _study(not_a_root)
    with pytest.raises(HpcoreError, match="is a file, not a folder"):
        hpcore.load(not_a_root)
    for command in ("status", "best", "report"):
        out = _hpcore(command, not_a_root)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert out.stderr.startswith(f"hpcore {command}: error:")
    spec = tmp_path / "search.toml"
    spec.write_bytes('search = "grid"\ntrain = "m:f"\n# caf\xe9\n'.encode("latin-1"))
    for extra in ((), ("--check",)):
        out = _hpcore("run", spec, *extra, cwd=tmp_path)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert "not UTF-8 text" in out.stderr and len(out.stderr.splitlines()) == 1


def test_a_reader_never_meets_a_half_created_database(tmp_path):
    """hpcore.load while a driver creates the study: no study yet, or the study."""
    seen: list[str] = []
    stop = threading.Event()
    roots = [tmp_path / f"r{i}" for i in range(30)]

    def watch():
        while not stop.is_set():
            for root in roots:
                try:
                    Storage(root, lock=False, readonly=True).close()
                except FileNotFoundError:
                    continue
                except Exception as exc:  # noqa: BLE001 - what the reader met is the point
                    seen.append(f"{type(exc).__name__}: {exc}")

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for root in roots:
            Storage(root).close()
    finally:
        stop.set()
        watcher.join()
    assert seen == []


# -- a read-only file system ------------------------------------------------------------


def _can_mount_read_only(path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c",
         f"mount --bind {path} {path} && mount -o remount,ro,bind {path}"],
        capture_output=True,
    )
    return probe.returncode == 0


def test_a_finished_study_on_a_read_only_mount_opens_for_reading(tmp_path):
    root, out = tmp_path / "root", tmp_path / "report-elsewhere"
    _study(root)
    if not _can_mount_read_only(root):
        pytest.skip("a read-only bind mount needs unshare -m and mount (root, Linux)")
    before = _listing(root)
    py = sys.executable
    script = (
        f"mount --bind {root} {root} && mount -o remount,ro,bind {root} && "
        f"{py} -c 'import hpcore; s = hpcore.load(\"{root}\"); print(\"best\", s.best_value)' && "
        f"{py} -m hpcore status {root} && {py} -m hpcore best {root} && "
        f"{py} -m hpcore report {root} --out {out}; "
        f"{py} -m hpcore report {root}; echo report-in-root=$?"
    )
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                          text=True, timeout=300)
    assert "best 1" in done.stdout, done.stderr
    assert "driver    not running" in done.stdout
    assert (out / "report.html").exists()
    # Writing the report into the read-only root: one line, no traceback.
    assert "report-in-root=1" in done.stdout
    assert "hpcore report: error:" in done.stderr and "Read-only file system" in done.stderr
    assert "Traceback" not in done.stderr
    assert _listing(root) == before


def test_reading_a_study_creates_no_file_in_the_root(tmp_path):
    root = tmp_path / "root"
    _study(root)
    before = _listing(root)
    hpcore.load(root)
    for command in ("status", "best"):
        assert _hpcore(command, root).returncode == 0
    assert _listing(root) == before  # no -wal, no -shm, no lock file
