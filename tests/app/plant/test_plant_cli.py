"""``draem-inspect run`` with the plant options: a server a client reaches while the run lasts, and wrong settings
as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plant_helpers import free_port

from app.cli.main import main


@pytest.fixture(autouse=True)
def data_home(data_dir: Path, monkeypatch) -> Path:
    monkeypatch.setenv("DRAEM_INSPECT_HOME", str(data_dir))
    monkeypatch.delenv("DRAEM_INSPECT_OPCUA_PASSWORD", raising=False)
    return data_dir


def test_run_serves_opcua_and_mqtt_while_it_runs(frames: Path, tiny_model: Path, data_dir: Path, broker,
                                                 capsys) -> None:  # fmt: skip
    port = free_port()
    code = main(["run", "--source", f"folder:{frames}", "--model", str(tiny_model), "--frames", "3", "--device", "cpu",
                 "--opcua", f"opc.tcp://127.0.0.1:{port}", "--opcua-anonymous", "--mqtt", broker.url,
                 "--station", "cli-test"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["ok"] + json.loads(captured.out)["ng"] >= 3
    assert f"OPC UA: opc.tcp://127.0.0.1:{port}" in captured.err and f"MQTT {broker.url}" in captured.err
    assert (data_dir / "opcua" / "server_cert.der").is_file()  # made at the first start, in the data folder


@pytest.mark.parametrize(("options", "expected"), [
    (["--opcua", "opc.tcp://127.0.0.1:4999", "--opcua-user", "plc"], "needs its password in $DRAEM_INSPECT_OPCUA_PASSWORD"),
    (["--opcua", "opc.tcp://127.0.0.1:4999"], "nobody could log in"),
    (["--opcua", "127.0.0.1:4840"], "expected opc.tcp://HOST:PORT"),
    (["--mqtt", "tcp://broker:1883"], "expected mqtt://"),
    (["--mqtt", "mqtt://u:hunter2@broker:1883", "--station", "a/b"], "must not be empty or contain '/'"),
    (["--recipe", "nothing"], "no such recipe"),
])  # fmt: skip
def test_wrong_plant_settings_are_one_line(frames: Path, tiny_model: Path, options: list[str], expected: str,
                                           capsys) -> None:  # fmt: skip
    model = [] if "--recipe" in options else ["--model", str(tiny_model)]
    code = main(["run", "--source", f"folder:{frames}", *model, "--frames", "1", "--device", "cpu", *options])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and expected in err[-1] and "Traceback" not in "\n".join(err) and "hunter2" not in "\n".join(err)
