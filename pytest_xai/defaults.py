"""The names, bounds and defaults shared by the plugin, the engine and the report.

One place for each fact. This module imports nothing but the standard library, so the pytest
plugin can validate options at start-up without loading numpy, PIL or torch. The registry of
attribution methods lives in ``pytest_xai.registry``.
"""

from __future__ import annotations

OUTPUTS = ("logit", "probability", "log_probability")
BASELINES = ("mean", "zero", "blur")
PRECISIONS = ("float32", "bfloat16", "float16")
MIN_SAMPLES = 2
MAX_SAMPLES = 1_000_000
MAX_SEED = 2**63 - 1

# -- samples="auto" (benchmarks/adaptive.py; benchmarks/results/adaptive.md) --------------------
# A round of LIME / Kernel SHAP draws this many coalitions, GradientSHAP this many samples; an
# explanation starts with AUTO_FIRST_ROUNDS rounds (the standard error needs a few dozen
# independent draws to be trusted) and stops once Σ standard error / Σ |attribution| is at most
# the tolerance, or at the cap: by default the method's fixed budget (default_samples), so
# "auto" never costs more than a fixed run. A check whose interval straddles its bound asks for
# more rounds, up to the cap.
AUTO_ROUND_SIZE = 100
AUTO_GRADIENT_ROUND_SIZE = 25
AUTO_FIRST_ROUNDS = 2
DEFAULT_TOLERANCE = 0.25
# Interval of a check's measure: its value ± 1.96 standard deviations over this many plausible
# redraws of the heatmaps (pytest_xai.checks.adaptive).
INTERVAL_DRAWS = 40
INTERVAL_LEVEL = 0.95

# -- goldens ------------------------------------------------------------------------------------
GOLDEN_STATES = ("passed", "failed", "written", "updated")
TOP_K_FRACTION = 0.2  # top-k IoU compares the 20% most attributed pixels
DEFAULT_GOLDEN_MODE = "release"
# Every measured bound below is explained, with the measurement it comes from, in
# benchmarks/results/defaults.md. A method registered without a measurement gets the global value.
# Release mode: the evidence may move at most this share of the image diagonal (earth mover's
# distance of the positive mass on a 16-cell grid). The call's max_shift and ini xai_max_shift
# override both.
DEFAULT_MAX_SHIFT = 0.12
DEFAULT_MAX_SHIFT_BY_METHOD: dict[str, float] = {"lime": 0.21, "kernel_shap": 0.2, "gradient_shap": 0.25}
# An explanation whose summed |attribution| is at most EVIDENCE_RTOL of its explained output
# (plus EVIDENCE_ATOL) carries no evidence: float32 outputs resolve about 1e-7 of their value,
# so anything smaller is round-off, not something the model reads (metrics.no_evidence).
EVIDENCE_RTOL = 1e-5
EVIDENCE_ATOL = 1e-12
# Strict mode (same model, new environment): rank agreement with the golden.
DEFAULT_MIN_SPEARMAN = 0.7
DEFAULT_MIN_TOP_K_IOU = 0.55
# A grid cell holding less than this share of its map's fullest cell holds "almost none". A cell
# where the golden had almost none and the new map has more gained evidence (release mode).
GAINED_CELL_FRACTION = 0.01
# Release mode's second criterion (metrics.support_loss): the share of the new positive mass
# outside the golden's support, the fewest cells of the 16-cell grid holding EVIDENCE_SUPPORT of
# its positive mass, grown by EVIDENCE_SUPPORT_GROW cells in every direction: a texture shortcut
# spreading the evidence thinly over the background.
EVIDENCE_SUPPORT = 0.9
EVIDENCE_SUPPORT_GROW = 2
DEFAULT_MAX_SUPPORT_LOSS = 0.45
DEFAULT_MAX_SUPPORT_LOSS_BY_METHOD: dict[str, float] = {"lime": 0.45, "kernel_shap": 0.25, "gradient_shap": 0.33}
# Release mode's third criterion (metrics.region_gains, goldens.modes.region_gain): no named region
# recorded with the golden, but the one it rests on, may gain more than this share of the positive
# mass.
DEFAULT_MAX_REGION_GAIN = 0.28
DEFAULT_MAX_REGION_GAIN_BY_METHOD: dict[str, float] = {"lime": 0.23, "kernel_shap": 0.17, "gradient_shap": 0.28}
# Release mode's fourth criterion (goldens.reliance): no named region recorded with the golden,
# but the one it rests on, may carry more of the model's margin than it did for the golden's
# model: the margin's fall when the region is hidden (grey fill), in interquartile ranges of the
# image's logits, may grow by at most this. It depends on the model alone, not on the method.
DEFAULT_MAX_RELIANCE_GAIN = 2.39
# Sanity check (cascading randomisation): Spearman of |attribution| between the trained and
# the randomised model above this means the method does not depend on the model.
DEFAULT_MAX_SIMILARITY = 0.5
# What a golden .npz may hold before it is decompressed: 2^27 pixels (above PIL's default
# decompression-bomb limit of 89M, so the golden of any image PIL loads can be read back;
# assert_match refuses larger explanations) and a 1 MB header.
GOLDEN_MAX_PIXELS = 2**27
GOLDEN_MAX_HEADER_BYTES = 2**20

# -- files --------------------------------------------------------------------------------------
DEFAULT_RESULTS_DIR = ".xai-results"
DEFAULT_SNAPSHOT_DIR = "__xai_snapshots__"
STALE_TEMP_SECONDS = 3600  # a temp file older than this, or whose writer is gone, is debris

# -- persistent explanation cache ----------------------------------------------------------------
CACHE_MODES = ("off", "read", "write", "on")
CACHE_DIR_NAME = "xai-explanations"  # under pytest's cache dir (.pytest_cache/d/)
DEFAULT_CACHE_MAX_MB = 200

# -- devices ------------------------------------------------------------------------------------
DEVICE_HELP = "use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"


def check_device_name(device: str) -> str | None:
    """The problem with a device name, or None when it is well formed (existence is checked
    where torch is loaded)."""
    if device in ("auto", "cpu", "cuda", "mps"):
        return None
    if device.startswith("cuda:") and device[5:].isdigit():
        return None
    return f"{device!r} is not a device; {DEVICE_HELP}"

# -- assertions ---------------------------------------------------------------------------------
# assert_attribution_focus's default: the positive evidence is DEFAULT_MIN_DENSITY times denser
# inside the region than outside ((mass / area) / ((1 - mass) / (1 - area)); a uniform heatmap
# scores 1), judged as the relevance ratio bound default_min_ratio(area). A plain ratio bound
# is unfair to large regions: a region covering 64% of the image caps the ratio at 1.55.
DEFAULT_MIN_DENSITY = 1.1


def default_min_ratio(area: float) -> float:
    """The default relevance-ratio bound for a region covering ``area`` of the image.

    ``D / (1 + (D - 1) * area)`` with ``D = DEFAULT_MIN_DENSITY``: the ratio at which the
    evidence is D times denser inside than outside. D for a small region, falling towards 1
    as the region grows, always below the most a heatmap can score (1 / area).
    """
    d = DEFAULT_MIN_DENSITY
    return d / (1.0 + (d - 1.0) * area)
