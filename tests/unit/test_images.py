"""One input normaliser for every entry point; image files of every depth; classifier keys."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from pytest_xai import Classifier, explain, load_image
from pytest_xai.errors import XaiValueError
from pytest_xai.images import as_images

# -- image files --------------------------------------------------------------------------------


def test_16_bit_png_is_scaled_by_65535(tmp_path: Path) -> None:
    values = np.tile(np.linspace(0, 65535, 32).astype(np.uint16), (16, 1))
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    image = load_image(tmp_path / "g16.png")
    np.testing.assert_allclose(image[..., 0], values / 65535.0, atol=1e-6)
    assert np.array_equal(image[..., 0], image[..., 2])
    grey = np.full((16, 16), 32768, np.uint16)  # the mid-grey: was saturated to 0.998
    Image.fromarray(grey).save(tmp_path / "mid.png")
    assert load_image(tmp_path / "mid.png").mean() == pytest.approx(0.5, abs=1e-4)


def test_float_tiff_in_range_is_read_as_is_and_out_of_range_refused(tmp_path: Path) -> None:
    values = np.linspace(0, 1, 16 * 16, dtype=np.float32).reshape(16, 16)
    Image.fromarray(values).save(tmp_path / "f.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "f.tif")[..., 1], values)
    Image.fromarray(values * 255).save(tmp_path / "f255.tif")
    with pytest.raises(XaiValueError, match=r"float \(mode F\) image with values in \[0, 255\]"):
        load_image(tmp_path / "f255.tif")


@pytest.mark.parametrize("mode", ["P", "LA", "CMYK", "RGBA", "L", "1"])
def test_other_modes_convert_like_pil(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    source = rgb.convert(mode)
    source.save(tmp_path / "x.tif")
    expected = np.asarray(Image.open(tmp_path / "x.tif").convert("RGB"), np.float32) / 255
    np.testing.assert_array_equal(load_image(tmp_path / "x.tif"), expected)


def test_decompression_bomb_is_a_clear_error(tmp_path: Path) -> None:
    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")  # a few kB on disk
    with pytest.raises(XaiValueError, match=r"has 400,000,000 pixels, over PIL's decompression"):
        load_image(tmp_path / "bomb.png")


# -- one normaliser -----------------------------------------------------------------------------


def _forms(image: np.ndarray) -> dict[str, object]:
    u8 = (image * 255).round().astype(np.uint8)
    return {
        "float HWC": u8 / 255.0,
        "uint8 HWC": u8,
        "uint8 CHW tensor": torch.from_numpy(u8).permute(2, 0, 1),
        "float CHW tensor": torch.from_numpy(u8 / np.float32(255)).permute(2, 0, 1),
        "PIL": Image.fromarray(u8),
    }


def test_every_single_form_gives_the_same_array(shapes_image: np.ndarray) -> None:
    expected = (shapes_image * 255).round().astype(np.uint8) / np.float32(255)
    for name, form in _forms(shapes_image).items():
        arrays, single = as_images(form)
        assert single, name
        np.testing.assert_allclose(arrays[0], expected, atol=1e-6, err_msg=name)


def test_lists_and_4d_batches(shapes_samples: list) -> None:
    images = [s.image for s in shapes_samples]
    batch_hwc = np.stack(images)
    batch_chw = torch.from_numpy(batch_hwc).permute(0, 3, 1, 2)
    for value in (images, tuple(images), batch_hwc, batch_chw):
        arrays, single = as_images(value)
        assert not single and len(arrays) == 3
        for got, want in zip(arrays, images):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(XaiValueError, match="images is empty"):
        as_images(np.zeros((0, 8, 8, 3)))
    half, _ = as_images(batch_chw.bfloat16())  # numpy has no bfloat16: read as float32
    np.testing.assert_allclose(half[0], images[0], atol=2**-8)


def test_explain_and_predict_accept_every_form(shapes_clf: Classifier, shapes_samples: list) -> None:
    image = shapes_samples[1].image
    reference = explain(shapes_clf, (image * 255).round().astype(np.uint8) / 255.0, samples=60)
    for name, form in _forms(image).items():
        exp = explain(shapes_clf, form, samples=60)
        np.testing.assert_allclose(exp.heatmap, reference.heatmap, atol=1e-5, err_msg=name)
        assert shapes_clf.predict(form).label == reference.target, name
    batch = torch.from_numpy(np.stack([s.image for s in shapes_samples])).permute(0, 3, 1, 2)
    predictions = shapes_clf.predict(batch)
    assert isinstance(predictions, list) and [p.label for p in predictions] == [0, 1, 2]
    exps = explain(shapes_clf, batch, samples=60)
    assert isinstance(exps, list) and [e.target for e in exps] == [0, 1, 2]


# -- classifier keys ----------------------------------------------------------------------------


def _scaled_model(scale: torch.Tensor):  # type: ignore[no-untyped-def]
    def model(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) * scale

    return model


def _opaque_model(state: SimpleNamespace):  # type: ignore[no-untyped-def]
    def model(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) * state.scale

    return model


def test_two_closures_from_one_factory_never_share_a_key(shapes_image: np.ndarray) -> None:
    a = Classifier(_scaled_model(torch.tensor([1.0, 0.0, 0.0])), device="cpu")
    b = Classifier(_scaled_model(torch.tensor([0.0, 1.0, 0.0])), device="cpu")
    again = Classifier(_scaled_model(torch.tensor([1.0, 0.0, 0.0])), device="cpu")
    assert a.cache_key is not None and b.cache_key is not None
    assert a.cache_key != b.cache_key and a.fingerprint != b.fingerprint
    assert a.cache_key == again.cache_key  # equal content, equal key: the key is exact


def test_opaque_closures_are_never_shared_across_objects() -> None:
    a = Classifier(_opaque_model(SimpleNamespace(scale=1.0)), device="cpu")
    b = Classifier(_opaque_model(SimpleNamespace(scale=2.0)), device="cpu")
    assert a.cache_key is None and b.cache_key is None
    assert a.session_key != b.session_key
    assert a.session_key == a.session_key  # stable for one object


def test_the_key_covers_preprocess_class_names_and_layout(shapes_clf: Classifier) -> None:
    module = shapes_clf.model

    def key(**kwargs: object) -> str | None:
        return Classifier(module, device="cpu", **kwargs).cache_key  # type: ignore[arg-type]

    plain = key()
    assert plain is not None and plain == key()
    assert key(preprocess=lambda x: x * 2) != plain
    assert key(preprocess=lambda x: x * 2) != key(preprocess=lambda x: x * 3)
    assert key(preprocess=torch.nn.Identity()) != plain
    assert key(class_names=["a", "b", "c"]) != key(class_names=["a", "c", "b"])
    assert key(channels_last=False) != plain
    retrained = type(module)(3)
    assert Classifier(retrained, device="cpu").cache_key != plain  # other weights


def test_a_callable_object_is_opaque() -> None:
    class Model:
        def __call__(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(dim=(2, 3))

    assert Classifier(Model(), device="cpu").cache_key is None


def test_a_global_that_the_preprocessing_reads_is_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "user_norm.py").write_text(
        "import torch\nMEAN = torch.tensor([0.5, 0.5, 0.5])\n\n"
        "def normalise(x):\n    return x - MEAN[None, :, None, None]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_norm

    def key() -> str | None:
        return Classifier(torch.nn.Flatten(), preprocess=user_norm.normalise, device="cpu").cache_key

    before = key()
    assert before is not None and before == key()
    monkeypatch.setattr(user_norm, "MEAN", torch.tensor([0.4, 0.5, 0.5]))
    assert key() != before  # a persistent cache must not return the old normalisation's result
