"""Options that cannot work stop the run at start-up (exit 4), before any test runs."""

from __future__ import annotations

import pytest

TEST = "def test_x():\n    pass\n"


@pytest.mark.parametrize("option", ["--xai-seed=", "--xai-samples=", "--xai-device=", "--xai-results=",
                                    "--xai-model=", "--xai-seed= "])
def test_an_empty_option_value_is_a_usage_error_not_the_default(pytester: pytest.Pytester, option: str) -> None:
    pytester.makepyfile(test_x=TEST)
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    flag = option.split("=")[0]
    result.stderr.fnmatch_lines([f"*{flag}=*is empty; give a value or leave the option out*"])
    assert not list(pytester.path.glob("*.png"))


def test_an_empty_option_value_given_as_its_own_argument_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=TEST)
    result = pytester.runpytest("--xai-samples", "")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xai-samples='' is empty*"])


@pytest.mark.parametrize("where", ["taken", "taken/sub"])
def test_results_folder_that_is_a_file_is_a_usage_error(pytester: pytest.Pytester, where: str) -> None:
    pytester.makepyfile(test_x=TEST)
    (pytester.path / "taken").write_text("not a folder")
    result = pytester.runpytest(f"--xai-results={where}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--xai-results='{where}'*is a file, not a folder; pass a writable folder*"])
    assert (pytester.path / "taken").read_text() == "not a folder"


def test_a_results_folder_that_does_not_exist_yet_is_fine(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=TEST)
    result = pytester.runpytest("--xai-results=new/deeper")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "new").exists()  # made only when a picture is written


@pytest.mark.parametrize("spec, message", [
    ("nocolon", "*model spec 'nocolon' is not understood; use 'package.module:factory'*"),
    ("pkg.mod:", "*model spec 'pkg.mod:' is not understood*"),
    (":make", "*model spec ':make' is not understood*"),
    ("pkg mod:make", "*model spec 'pkg mod:make' is not understood*"),
    ("models/missing.ts", "*model spec 'models/missing.ts': no file at *missing.ts*"),
    ("torchvision:resnet18", "*model spec 'torchvision:resnet18' needs a model name and a weights file*"),
    ("torchvision:resnet18=nowhere.pth", "*model spec 'torchvision:resnet18=nowhere.pth': weights file *nowhere.pth "
     "does not exist*"),
])
def test_a_malformed_model_spec_is_a_usage_error_at_start_up(
    pytester: pytest.Pytester, spec: str, message: str
) -> None:
    pytester.makepyfile(test_x="def test_x(xai_model):\n    pass\n")
    result = pytester.runpytest(f"--xai-model={spec}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xai-model/xai_model: " + message.lstrip("*")])
    result.stdout.no_fnmatch_line("*pytest_xai/plugin*")  # no traceback through the plugin


def test_ini_model_spec_is_checked_too_and_files_resolve_against_the_ini_folder(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=TEST)
    pytester.makeini("[pytest]\nxai_model = models/net.ts\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*no file at {pytester.path / 'models' / 'net.ts'}*"])
    (pytester.path / "models").mkdir()
    (pytester.path / "models" / "net.ts").write_bytes(b"")
    pytester.runpytest().assert_outcomes(passed=1)  # it exists: whether it loads is the fixture's business


def test_checking_the_model_spec_imports_no_torch(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("import sys\n\ndef pytest_collection_finish(session):\n"
                          "    print('torch loaded:', 'torch' in sys.modules)\n")
    pytester.makepyfile(test_x=TEST)
    (pytester.path / "net.ts").write_bytes(b"")
    for spec in ("net.ts", "some.pkg:make", "torchvision:resnet18=net.ts"):
        result = pytester.runpytest_subprocess(f"--xai-model={spec}", "-s")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["torch loaded: False"])


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def test_a_cuda_device_that_is_not_there_is_refused_at_start_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=TEST)
    count = _cuda_count()
    result = pytester.runpytest(f"--xai-device=cuda:{count}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--xai-device/xai_device='cuda:{count}' but this machine has *; use 'cpu' or 'auto'*"])
    if count == 0:
        for given in (["--xai-device=cuda"], ["-o", "xai_device=cuda"]):
            result = pytester.runpytest(*given)
            assert result.ret == pytest.ExitCode.USAGE_ERROR
            result.stderr.fnmatch_lines(["*xai_device='cuda' but this machine has no CUDA device*"])
    pytester.runpytest("--xai-device=cpu").assert_outcomes(passed=1)


def test_mps_without_mps_is_refused_at_start_up(pytester: pytest.Pytester) -> None:
    import torch

    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS: the device is accepted")
    pytester.makepyfile(test_x=TEST)
    for given in (["--xai-device=mps"], ["-o", "xai_device=mps"]):
        result = pytester.runpytest(*given)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*xai_device='mps' but this machine has no MPS device; use 'cpu' or 'auto'*"])


@pytest.mark.parametrize("args, message", [
    (["--xai-mutate=2", "--xai-mutate-twin=nocolon"], "*--xai-mutate-twin: model spec 'nocolon' is not understood*"),
    (["--xai-mutate=2", "--xai-mutate-twin=missing.pt"], "*--xai-mutate-twin: model spec 'missing.pt': no file at *"),
    (["--xai-mutate-twin=pkg.mod:make"], "*--xai-mutate-twin='pkg.mod:make' needs --xai-mutate*"),
    (["--xai-mutate=2", "--xai-update"], "*--xai-mutate scores mutants against the goldens on disk; --xai-update*"),
    (["--xai-mutate=2", "--xai-update=missing"], "*--xai-mutate scores mutants against the goldens on disk*"),
])
def test_mutation_options_are_checked_at_start_up(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile(test_x="def test_x():\n    raise AssertionError('a test ran')\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    result.stdout.no_fnmatch_line("*a test ran*")


def test_a_calibration_path_that_cannot_be_written_is_refused_at_start_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    raise AssertionError('a test ran')\n")
    (pytester.path / "folder").mkdir()
    (pytester.path / "afile").write_text("")
    for path, why in (("folder", "is a folder"), ("afile/out.json", "is a file, not a folder")):
        result = pytester.runpytest(f"--xai-calibrate={path}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*--xai-calibrate={path!r}*{why}*"])
        result.stdout.no_fnmatch_line("*a test ran*")
    assert (pytester.path / "folder").is_dir() and (pytester.path / "afile").read_text() == ""
