"""The extension surface through real runs: a conftest registers a method (with its own option
and golden bounds), a golden mode, a fill and a model loader in the pytest_xai_register_* hooks,
stores goldens in a format of its own, and swaps the model under test in
pytest_xai_wrap_classifier."""

from __future__ import annotations

import pytest

EXTENSION = '''
import numpy as np
from pytest_xai.extend import Comparison
from tiny_samples import occlusion  # the tests' toy method, reading its own patch option


class SameTarget:
    name = "same_target"
    bounds = ()
    measures = ()

    def refuses_silence(self, silent, no_evidence):
        return silent

    def compare(self, golden, actual, bounds):
        return Comparison(None, {}, [], "same target")


def pytest_xai_register_methods(register_method):
    register_method("occlusion", occlusion, default_samples=2, options=("patch",),
                    golden_bounds={"max_shift": 0.05, "min_spearman": 0.9})


def pytest_xai_register_golden_modes(register_golden_mode):
    register_golden_mode(SameTarget())


def pytest_xai_register_fills(register_fill):
    register_fill("black", lambda image, mask: np.where(mask[..., None], 0.0, image))


def pytest_xai_register_model_loaders(register_model_loader):
    import torch

    class Fixed(torch.nn.Module):  # "fixed:N" always predicts class N
        def __init__(self, n):
            super().__init__()
            self.n = n

        def forward(self, x):
            return torch.nn.functional.one_hot(torch.full((len(x),), self.n), 3).float() * 5

    register_model_loader("fixed", lambda spec, device, base: Fixed(int(spec.partition(":")[2])))
'''


@pytest.mark.slow
def test_a_conftest_extension_is_usable_from_options_and_checks(xai_pytester: pytest.Pytester) -> None:
    from pytest_xai.extend import FILLS, GOLDEN_MODES, METHODS, MODEL_LOADERS

    before = [dict(r) for r in (METHODS, GOLDEN_MODES, FILLS, MODEL_LOADERS)]
    xai_pytester.makeconftest(xai_pytester.path.joinpath("conftest.py").read_text() + EXTENSION)
    xai_pytester.makepyfile(test_ext='''
        from pytest_xai.checks.interventions.fills import hide
        from pytest_xai.goldens.modes import Bounds, GOLDEN_MODES, SessionBounds
        import numpy as np

        def test_method(explain, shape_image, pytestconfig):
            exp = explain(shape_image, patch=32)
            assert exp.method == "occlusion" and exp.params["patch"] == 32
            assert exp.meta["evaluations"] == 1 + 4  # four 32-pixel patches of a 64-pixel image

        def test_mode_and_fill_and_bounds(pytestconfig):
            assert "same_target" in GOLDEN_MODES
            image = np.ones((4, 4, 3), np.float32)
            mask = np.zeros((4, 4), bool); mask[0, 0] = True
            assert hide(image, mask, "black")[0, 0].tolist() == [0.0, 0.0, 0.0]
            assert Bounds.resolve(SessionBounds(), method="occlusion").max_shift == 0.05
            # the run's own bounds: the ini sets none, so the method's declared ones hold, strict ones too
            from pytest_xai.plugin import xai_key
            session = pytestconfig.stash[xai_key].settings.golden_bounds
            assert Bounds.resolve(session, method="occlusion", mode="strict").min_spearman == 0.9

        def test_model_loader(xai_model, shape_image):
            assert xai_model.predict(shape_image).label == 2  # built by the "fixed" loader
    ''')
    # a conftest in a test folder, loaded at collection, registers for the tests beside it
    xai_pytester.mkpydir("sub")
    (xai_pytester.path / "sub" / "conftest.py").write_text(
        "def pytest_xai_register_fills(register_fill):\n"
        "    register_fill('white', lambda image, mask: image * 0 + 1)\n")
    (xai_pytester.path / "sub" / "test_sub.py").write_text(
        "import numpy as np\n"
        "from pytest_xai.checks.interventions.fills import hide\n\n"
        "def test_white():\n"
        "    assert hide(np.zeros((2, 2, 3), np.float32), np.ones((2, 2), bool), 'white').min() == 1\n")
    xai_pytester.makeini("[pytest]\nxai_method = occlusion\n")
    result = xai_pytester.runpytest("-p", "no:cacheprovider", "--xai-model=fixed:2")
    result.assert_outcomes(passed=4)
    # the session's registrations end with it: the next session in this process starts clean
    assert [dict(r) for r in (METHODS, GOLDEN_MODES, FILLS, MODEL_LOADERS)] == before
    # an ini value naming a method nobody registered is refused at start-up, before any test runs
    xai_pytester.makeini("[pytest]\nxai_method = occlusion2\n")
    result = xai_pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*occlusion2*"])


@pytest.mark.slow
def test_wrap_classifier_explains_another_model_in_the_tests_place(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makeconftest(xai_pytester.path.joinpath("conftest.py").read_text() + '''

import torch

class Constant(torch.nn.Module):
    def forward(self, x):
        return torch.tensor([[0.0, 5.0, 0.0]]).repeat(len(x), 1)

def pytest_xai_wrap_classifier(classifier, request):
    if request.node.get_closest_marker("swapped"):
        return Constant()
    return None
''')
    xai_pytester.makepyfile(test_wrap='''
        import pytest

        @pytest.mark.swapped
        def test_swapped(explain, shape_image):
            exp = explain(shape_image, samples=20, n_segments=8)
            assert exp.target == 1 and abs(exp.heatmap).max() < 1e-6

        def test_kept(explain, shape_image):
            exp = explain(shape_image, samples=20, n_segments=8)
            assert abs(exp.heatmap).max() > 1e-3
    ''')
    xai_pytester.runpytest("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning").assert_outcomes(passed=2)


@pytest.mark.slow
def test_a_golden_serializer_hook_stores_goldens_in_its_own_format(xai_pytester: pytest.Pytester) -> None:
    xai_pytester.makeconftest(xai_pytester.path.joinpath("conftest.py").read_text() + '''

from pytest_xai.extend import NpzSerializer


class Golden(NpzSerializer):
    extension = ".golden"

    def dump(self, explanation, path):
        super().dump(explanation, path.with_suffix(".npz"))
        path.with_suffix(".npz").rename(path)


def pytest_xai_golden_serializer(config):
    return Golden()
''')
    xai_pytester.makepyfile(test_g='''
        def test_g(explain, shape_image, xai_snapshot):
            xai_snapshot.assert_match(explain(shape_image, samples=40, n_segments=8))
    ''')
    xai_pytester.runpytest("-p", "no:cacheprovider", "--xai-update").assert_outcomes(passed=1)
    folder = xai_pytester.path / "__xai_snapshots__" / "test_g"
    assert sorted(p.name for p in folder.iterdir()) == ["test_g.golden", "test_g.png"]
    xai_pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)  # read back and compared
    (folder / "test_g.golden").write_bytes(b"not a golden")
    result = xai_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_g.golden cannot be used*"])
    (xai_pytester.path / "conftest.py").write_text(
        (xai_pytester.path / "conftest.py").read_text().replace("return Golden()", "return 'json'"))
    result = xai_pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pytest_xai_golden_serializer returned 'json'; return a pytest_xai.extend.Serializer*"])
    (xai_pytester.path / "conftest.py").write_text(
        (xai_pytester.path / "conftest.py").read_text().replace("return 'json'", "return Golden()")
        .replace('extension = ".golden"', 'extension = ".png"'))  # would overwrite the preview
    result = xai_pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*returned a Golden with extension='.png'; use a dot and letters or digits*"])


@pytest.mark.parametrize(("hook", "message"), [
    ("def pytest_xai_register_fills(register_fill):\n    register_fill('bad name', lambda image, mask: image)\n",
     "*pytest_xai_register_fills: name='bad name' is not a fill name*"),
    ("def pytest_xai_register_model_loaders(register_model_loader):\n    register_model_loader('my-zoo', print)\n",
     "*pytest_xai_register_model_loaders: prefix='my-zoo' is not a model loader prefix*"),
    ("def pytest_xai_register_methods(register_method):\n"
     "    register_method('m', print, default_samples=2, golden_bounds={'max_shift': float('nan')})\n",
     "*pytest_xai_register_methods: golden_bounds={'max_shift': nan} is not a dict*"),
])
def test_a_refused_registration_is_a_usage_error_naming_the_hook(pytester: pytest.Pytester, hook: str,
                                                                  message: str) -> None:
    pytester.makeconftest(hook)
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "INTERNALERROR" not in result.stderr.str()
