"""The log file: where it is, its header with the version, rotation, levels, uncaught exceptions, the sink."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from app import logs
from app.logs import HeaderedFileHandler, setup_logging
from draem_core.version import __version__

pytestmark = pytest.mark.usefixtures("restore_logging")


def test_log_file_in_the_data_folder_starts_with_the_version(tmp_path: Path) -> None:
    path = setup_logging(tmp_path, "INFO", console=False)
    logging.getLogger("app.test").info("hello from the test")
    assert path == tmp_path / "logs" / "draem-inspect.log"
    lines = path.read_text().splitlines()
    assert lines[0].startswith(f"# draem-inspect {__version__}") and "Python" in lines[0] and "torch" in lines[0]
    assert any("started:" in line and __version__ in line for line in lines)
    assert lines[-1].endswith("app.test: hello from the test")


def test_every_rotated_file_starts_with_the_header(tmp_path: Path) -> None:
    handler = HeaderedFileHandler(tmp_path / "x.log", maxBytes=2000, backupCount=3, encoding="utf-8")
    log = logging.getLogger("test.rotation")
    log.addHandler(handler)
    log.propagate = False
    try:
        for i in range(200):
            log.warning("line %03d %s", i, "x" * 40)
    finally:
        log.removeHandler(handler)
        handler.close()
        log.propagate = True
    files = [tmp_path / "x.log", *(tmp_path / f"x.log.{n}" for n in (1, 2, 3))]
    assert all(f.is_file() for f in files) and not (tmp_path / "x.log.4").exists()
    for f in files:
        assert f.read_text().startswith(f"# draem-inspect {__version__}")


def test_level_filters_and_a_second_setup_does_not_double_lines(tmp_path: Path) -> None:
    setup_logging(tmp_path, "INFO", console=False)
    path = setup_logging(tmp_path, "warning", console=False)
    log = logging.getLogger("app.test")
    log.info("not written at WARNING")
    log.warning("written once")
    text = path.read_text()
    assert "not written" not in text and text.count("written once") == 1


def test_unknown_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LOUD"):
        setup_logging(tmp_path, "LOUD", console=False)


def test_an_uncaught_exception_in_a_thread_is_logged(tmp_path: Path) -> None:
    path = setup_logging(tmp_path, "INFO", console=False)

    def boom() -> None:
        raise RuntimeError("worker blew up")

    thread = threading.Thread(target=boom, name="worker-7")
    thread.start()
    thread.join()
    text = path.read_text()
    assert "uncaught exception in thread worker-7" in text and "RuntimeError: worker blew up" in text
    assert "Traceback" in text


def test_console_leaves_out_file_only_records(tmp_path: Path, capsys) -> None:
    setup_logging(tmp_path, "INFO", console=True)
    log = logging.getLogger("app.test")
    log.error("for both")
    log.error("for the file only", extra=logs.FILE_ONLY)
    err = capsys.readouterr().err
    assert "for both" in err and "for the file only" not in err
    assert "for the file only" in (tmp_path / "logs" / "draem-inspect.log").read_text()


def test_errors_shown_to_the_operator_are_logged_with_context(tmp_path: Path, qapp) -> None:
    from app.gui.error_sink import ErrorSink

    path = setup_logging(tmp_path, "INFO", console=False)
    sink = ErrorSink()
    try:
        try:
            int("seven")
        except ValueError as cause:
            raise OSError("camera link lost") from cause
    except OSError as exc:
        error = exc
    for _ in range(3):
        sink("camera", error)  # shown once; the repeats are counted
    sink.__dict__["_last"].clear()  # the next one is shown again, as after REPEAT_S
    sink("camera", error)
    text = path.read_text()
    assert text.count("shown to the operator: camera: OSError: camera link lost") == 2
    assert "[MainThread]" in text and "builtins.OSError, caused by ValueError" in text
    assert "(repeated 2x in the last" in text and 'int("seven")' in text  # the traceback
