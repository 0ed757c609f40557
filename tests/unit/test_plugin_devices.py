"""--xai-devices: which device each xdist worker explains on, and the start-up checks (no GPU
needed: the CUDA device count is passed in)."""

from __future__ import annotations

import pytest

from pytest_xai.plugin.devices import device_for, parse_devices, worker_index


def three() -> int:
    return 3


def test_worker_k_uses_device_k_mod_n() -> None:
    devices = ("cuda:0", "cuda:2")
    got = [device_for("auto", devices, worker_index(f"gw{k}"), three) for k in range(5)]
    assert got == ["cuda:0", "cuda:2", "cuda:0", "cuda:2", "cuda:0"]
    assert device_for("auto", devices, None, three) == "cuda:0"  # no xdist: the first one


def test_without_the_option_worker_k_uses_cuda_k_mod_count() -> None:
    assert [device_for("auto", (), k, three) for k in (0, 1, 4)] == ["cuda:0", "cuda:1", "cuda:1"]
    assert device_for("cuda", (), 5, lambda: 1) == "cuda"  # one GPU: as configured
    assert device_for("cpu", (), 2, three) == "cpu" and device_for("auto", (), None, three) == "auto"


def test_the_list_is_parsed_and_checked_against_the_devices_present() -> None:
    assert parse_devices(None) == ()
    assert parse_devices("cuda:0, cuda:2", three) == ("cuda:0", "cuda:2")
    with pytest.raises(pytest.UsageError, match=r"'cuda:3' does not exist: there are 3 CUDA devices \(cuda:0-cuda:2\)"):
        parse_devices("cuda:0,cuda:3", three)
    with pytest.raises(pytest.UsageError, match="'cuda:0' does not exist: there is no CUDA device here"):
        parse_devices("cuda:0", lambda: 0)
    for bad, problem in (("cpu", "'cpu' is not a numbered CUDA device"), ("cuda", "'cuda' is not a numbered"),
                         ("cuda:0,,cuda:1", "lists an empty device name"), ("", "lists an empty device name"),
                         ("cuda:1,cuda:1", "names a device twice")):
        with pytest.raises(pytest.UsageError, match=problem):
            parse_devices(bad, three)


def test_worker_ids() -> None:
    assert worker_index(None) is None and worker_index("gw0") == 0 and worker_index("gw12") == 12
