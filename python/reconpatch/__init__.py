"""reconpatch: Python binding of libreconpatch (industrial visual anomaly detection: PatchCore and
ReConPatch), pure ctypes over libreconpatch.so.1. See docs/python.md.

    import reconpatch as rp
    model = rp.Model.train("examples/data/bottle/train/good", method="patchcore")
    result = model.score("examples/data/bottle/test/broken_large/000.png")
    print(result.score, result.map.shape)
"""
from . import _lib
from ._progress import (STAGE_CORESET, STAGE_FEATURES, STAGE_SCORE, STAGE_TRAIN, ProgressInfo, Stage)
from ._structs import (BankParams, CalibrationParams, ExtractorInfo, ExtractorParams, ImageLoadParams,
                       ModelLoadParams, ModelSaveParams, ModelThresholds, Progress, ScoreResult, ScorerInfo,
                       ScorerParams, TrainerParams, TrainParams)
from .bank import Bank
from .errors import (BackendError, CancelledError, DivergedError, ErrorCode, FormatError, InternalError,
                     InvalidArgumentError, LimitError, OutOfMemoryError, ReconpatchError, ReconpatchIOError,
                     ShapeError, StateError, UnsupportedError, VersionError, error_name)
from .extractor import (ARCH_RESNET50, ARCH_WIDE_RESNET50_2, LAYOUT_KERAS, LAYOUT_TORCHVISION, NORM_CAFFE,
                        NORM_TORCHVISION, OUTPUT_CLASSIFIER, OUTPUT_LAYER3, PRECISION_AUTO, PRECISION_BF16,
                        PRECISION_FP32, Arch, Extractor, Layout, Norm, Output, Precision, default_weights_path)
from .image import (PIXEL_BGR8, PIXEL_BGRA8, PIXEL_GRAY8, PIXEL_RGB8, PIXEL_RGBA8, Image, PixelFormat)
from .metrics import aupro, auroc, pixel_auroc
from .model import (METHOD_PATCHCORE, METHOD_PCA, METHOD_RECONPATCH, THRESHOLD_RULE_F1, THRESHOLD_RULE_NONE,
                    THRESHOLD_RULE_QUANTILE, THRESHOLD_RULE_USER, Method, Model, ThresholdRule, list_images)
from .scorer import DECISION_ANOMALOUS, DECISION_NONE, DECISION_NORMAL, Decision, Score, Scorer
from .trainer import Embedding, Trainer

library_path = _lib.path  # the file actually loaded

__all__ = [
    "Image", "Extractor", "Bank", "Embedding", "Trainer", "Scorer", "Score", "Model", "ProgressInfo",
    "ReconpatchError", "InvalidArgumentError", "OutOfMemoryError", "ReconpatchIOError", "FormatError",
    "VersionError", "UnsupportedError", "LimitError", "StateError", "CancelledError", "BackendError", "ShapeError",
    "InternalError", "DivergedError", "ErrorCode", "error_name",
    "Stage", "PixelFormat", "Arch", "Layout", "Norm", "Output", "Precision", "Decision", "ThresholdRule", "Method", "default_weights_path", "list_images", "auroc", "pixel_auroc", "aupro",
    "version", "version_number", "library_path",
    "Progress", "ImageLoadParams", "ExtractorParams", "ExtractorInfo", "BankParams", "ScorerParams",
    "ScorerInfo", "ScoreResult", "TrainerParams", "TrainParams", "ModelThresholds", "CalibrationParams",
    "ModelSaveParams", "ModelLoadParams",
    "STAGE_FEATURES", "STAGE_TRAIN", "STAGE_CORESET", "STAGE_SCORE",
    "PIXEL_GRAY8", "PIXEL_RGB8", "PIXEL_BGR8", "PIXEL_RGBA8", "PIXEL_BGRA8",
    "ARCH_RESNET50", "ARCH_WIDE_RESNET50_2", "LAYOUT_TORCHVISION", "LAYOUT_KERAS", "NORM_TORCHVISION",
    "NORM_CAFFE", "OUTPUT_LAYER3", "OUTPUT_CLASSIFIER", "PRECISION_FP32", "PRECISION_BF16", "PRECISION_AUTO",
    "METHOD_RECONPATCH", "METHOD_PATCHCORE", "METHOD_PCA", "DECISION_NONE", "DECISION_NORMAL", "DECISION_ANOMALOUS",
    "THRESHOLD_RULE_NONE", "THRESHOLD_RULE_QUANTILE", "THRESHOLD_RULE_F1", "THRESHOLD_RULE_USER",
]


def version():
    """Version string of the loaded library, e.g. "0.1.0"."""
    return _lib.lib.rp_version_string().decode()


def version_number():
    """major * 10000 + minor * 100 + patch of the loaded library."""
    return _lib.lib.rp_version_number()


__version__ = version()
