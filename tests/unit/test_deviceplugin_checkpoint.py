"""The device manager's checkpoint file: round trip, atomic writes, damage detection."""
import json
import os

import pytest

from minikube_py.kubelet.devices.checkpoint import CheckpointCorrupt, read_checkpoint, write_checkpoint

DATA = {"podDeviceEntries": [{"podUID": "u1", "containerName": "c", "resourceName": "nvidia.com/gpu",
                              "deviceIDs": ["GPU-0"], "allocResp": {"env": {"A": "1"}}}],
        "registeredDevices": {"nvidia.com/gpu": ["GPU-0", "GPU-1"]}}


def test_round_trip_and_no_leftovers(tmp_path):
    path = str(tmp_path / "sub" / "ckpt.json")
    assert read_checkpoint(path) is None
    write_checkpoint(path, DATA)
    write_checkpoint(path, DATA)
    assert read_checkpoint(path) == DATA
    assert os.listdir(tmp_path / "sub") == ["ckpt.json"]          # no temporary files left
    doc = json.loads(open(path).read())
    assert doc["kind"] == "DeviceManagerCheckpoint" and doc["checksum"].startswith("sha256:")


@pytest.mark.parametrize("mutate", [
    lambda text: text[: len(text) // 2],                                    # truncated
    lambda text: text.replace("GPU-0", "GPU-9", 1),                         # edited by hand
    lambda text: json.dumps({"kind": "Other", "data": {}}),
    lambda text: json.dumps(dict(json.loads(text), version=99)),
    lambda text: "",
])
def test_damaged_checkpoint_is_refused(tmp_path, mutate):
    path = str(tmp_path / "ckpt.json")
    write_checkpoint(path, DATA)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(mutate(text))
    with pytest.raises(CheckpointCorrupt):
        read_checkpoint(path)
