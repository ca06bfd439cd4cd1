"""Shared fixtures of the Python binding's tests.

The package is imported from the source tree (python/ beside tests/); the library comes from
RECONPATCH_LIB (set by meson to the freshly built one). Tests of accuracy need the pretrained
ResNet-50 (fixture `weights`) and skip when rp_default_weights_path finds none; tests of the
wiring (progress, cancelling, threads, thresholds, the model file) train on `backbone`: the cached
weights when present, else the committed random-weights ResNet-50 fixture, so they run everywhere.
"""
import glob
import os
import sys

import pytest

SOURCE_DIR = os.environ.get("RP_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SOURCE_DIR, "python"))

import reconpatch as rp  # noqa: E402

BOTTLE = os.path.join(SOURCE_DIR, "examples", "data", "bottle")
# A Keras-layout ResNet-50 at 1/64 width with seeded random weights (tools/gen_weight_fixtures.py).
FIXTURE_WEIGHTS = os.path.join(SOURCE_DIR, "tests", "data", "weights", "r50_keras_d64.safetensors")


def bottle_train_paths():
    return sorted(glob.glob(os.path.join(BOTTLE, "train", "good", "*.png")))


def bottle_test_cases():
    """(path, label, mask path or None) of the committed bottle test images, sorted."""
    cases = []
    for path in sorted(glob.glob(os.path.join(BOTTLE, "test", "*", "*.png"))):
        defect = os.path.basename(os.path.dirname(path))
        if defect == "good":
            cases.append((path, 0, None))
        else:
            name = os.path.splitext(os.path.basename(path))[0]
            cases.append((path, 1, os.path.join(BOTTLE, "ground_truth", defect, name + "_mask.png")))
    return cases


@pytest.fixture(scope="session")
def weights():
    try:
        return rp.default_weights_path()
    except rp.ReconpatchError as e:
        pytest.skip("no cached ResNet-50 weights (make weights): %s" % e.message)


@pytest.fixture(scope="session")
def backbone():
    """rp_extractor_params fields for Model.train: {} (the cached weights) when present, else the
    random-weights fixture with a patch feature length its 24 channels can fill."""
    try:
        rp.default_weights_path()
        return {}
    except rp.ReconpatchError:
        return {"weights_path": FIXTURE_WEIGHTS, "feature_dim": 16}


class TrainedModel:
    """A PatchCore model on the 20 bottle training images, with the progress reports of training."""

    def __init__(self, model, reports):
        self.model = model
        self.reports = reports


@pytest.fixture(scope="session")
def patchcore(backbone):
    reports = []
    model = rp.Model.train(bottle_train_paths(), method="patchcore", progress=reports.append, extractor=backbone)
    yield TrainedModel(model, reports)
    model.close()


@pytest.fixture(scope="session")
def serial_scores(patchcore):
    """Every test image scored once on this thread: (path, label, mask, Score with map)."""
    return [(path, label, mask, patchcore.model.score(path)) for path, label, mask in bottle_test_cases()]
