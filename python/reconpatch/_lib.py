"""Finding and loading libreconpatch.so.1, and the C prototypes of every public function.

Search order (the first that loads wins):
  1. the file named by the environment variable RECONPATCH_LIB;
  2. the installed library: the libdir pkg-config gives for libreconpatch (an install under a
     prefix the loader does not search, e.g. /usr/local before ldconfig ran), then
     ctypes.util.find_library('reconpatch'), then plain 'libreconpatch.so.1' (resolved by the
     dynamic loader: LD_LIBRARY_PATH, ld.so.cache);
  3. only when none is installed: a build tree beside the package,
     ../../build*/libreconpatch/libreconpatch.so.1 relative to this package (the newest one).
A deployment therefore never picks up a stray build folder; a developer running from the source
tree without installing still gets the build, and RECONPATCH_LIB chooses one explicitly.
"""
import ctypes
import ctypes.util
import glob
import os
import shutil
import subprocess

from . import _structs as S

SONAME = "libreconpatch.so.1"

# Opaque handle types: typed pointers catch a bank passed where an image is expected.
class rp_image(ctypes.Structure):
    pass


class rp_extractor(ctypes.Structure):
    pass


class rp_bank(ctypes.Structure):
    pass


class rp_embedding(ctypes.Structure):
    pass


class rp_trainer(ctypes.Structure):
    pass


class rp_scorer(ctypes.Structure):
    pass


class rp_model(ctypes.Structure):
    pass


P = ctypes.POINTER
c_int, c_int32, c_uint32, c_uint64 = ctypes.c_int, ctypes.c_int32, ctypes.c_uint32, ctypes.c_uint64
c_size_t, c_double, c_char_p, c_void_p = ctypes.c_size_t, ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p
c_float_p = P(ctypes.c_float)
c_uint8_p = P(ctypes.c_uint8)
c_uint64_p = P(ctypes.c_uint64)
c_double_p = P(ctypes.c_double)

# int (*)(const rp_progress *, void *user_data)
PROGRESS_FN = ctypes.CFUNCTYPE(c_int, P(S.Progress), c_void_p)
# void (*)(int32_t level, const char *message, void *user_data)
LOG_FN = ctypes.CFUNCTYPE(None, c_int32, c_char_p, c_void_p)

# name: (restype, [argtypes]). Functions missing from an older library are skipped at load time
# (see has()); the classes check for them before use.
PROTOTYPES = {
    # core
    "rp_version_string": (c_char_p, []),
    "rp_version_number": (c_uint32, []),
    "rp_last_error_code": (c_int, []),
    "rp_last_error_message": (c_char_p, []),
    "rp_error_name": (c_char_p, [c_int]),
    "rp_set_log_callback": (None, [LOG_FN, c_int32, c_void_p]),
    # image
    "rp_image_load_params_init": (c_int, [P(S.ImageLoadParams), c_size_t]),
    "rp_image_load_file": (c_int, [c_char_p, P(S.ImageLoadParams), P(P(rp_image))]),
    "rp_image_load_memory": (c_int, [c_void_p, c_size_t, P(S.ImageLoadParams), P(P(rp_image))]),
    "rp_image_from_pixels": (c_int, [c_void_p, c_uint32, c_uint32, c_size_t, c_int32, P(P(rp_image))]),
    "rp_image_width": (c_uint32, [P(rp_image)]),
    "rp_image_height": (c_uint32, [P(rp_image)]),
    "rp_image_channels": (c_uint32, [P(rp_image)]),
    "rp_image_pixels": (c_void_p, [P(rp_image)]),
    "rp_image_free": (None, [P(rp_image)]),
    "rp_image_overlay_heatmap": (c_int, [P(rp_image), c_float_p, c_size_t, ctypes.c_float, ctypes.c_float,
                                         ctypes.c_float, P(P(rp_image))]),
    "rp_image_save_png": (c_int, [P(rp_image), c_char_p]),
    # extractor
    "rp_extractor_params_init": (c_int, [P(S.ExtractorParams), c_size_t]),
    "rp_extractor_create": (c_int, [P(S.ExtractorParams), P(P(rp_extractor))]),
    "rp_extractor_free": (None, [P(rp_extractor)]),
    "rp_extractor_get_info": (c_int, [P(rp_extractor), P(S.ExtractorInfo), c_size_t]),
    "rp_extractor_preprocess": (c_int, [P(rp_extractor), P(rp_image), c_float_p, c_size_t]),
    "rp_extractor_forward": (c_int, [P(rp_extractor), c_float_p, c_size_t, c_uint32, c_float_p, c_size_t,
                                     c_float_p, c_size_t]),
    "rp_extractor_classify": (c_int, [P(rp_extractor), c_float_p, c_size_t, c_uint32, c_float_p,
                                      c_size_t]),
    "rp_extractor_patch_features": (c_int, [P(rp_extractor), P(P(rp_image)), c_uint32, c_float_p,
                                            c_size_t]),
    "rp_default_weights_path": (c_int, [P(ctypes.c_char), c_size_t]),
    # bank
    "rp_bank_params_init": (c_int, [P(S.BankParams), c_size_t]),
    "rp_bank_create": (c_int, [P(S.BankParams), P(P(rp_bank))]),
    "rp_bank_add": (c_int, [P(rp_bank), c_float_p, c_uint64, c_uint32]),
    "rp_bank_freeze": (c_int, [P(rp_bank), PROGRESS_FN, c_void_p]),
    "rp_bank_create_frozen": (c_int, [c_float_p, c_uint64, c_uint32, P(S.BankParams), P(P(rp_bank))]),
    "rp_bank_size": (c_uint64, [P(rp_bank)]),
    "rp_bank_dim": (c_uint32, [P(rp_bank)]),
    "rp_bank_is_frozen": (c_int, [P(rp_bank)]),
    "rp_bank_get_vectors": (c_int, [P(rp_bank), c_float_p, c_size_t]),
    "rp_bank_get_selection": (c_int, [P(rp_bank), c_uint64_p, c_size_t]),
    "rp_bank_search": (c_int, [P(rp_bank), c_float_p, c_size_t, c_uint64, c_uint32, c_float_p, c_size_t,
                               c_uint64_p, c_size_t]),
    "rp_bank_free": (None, [P(rp_bank)]),
    # embedding and trainer
    "rp_embedding_create": (c_int, [c_uint32, c_uint32, c_float_p, c_float_p, P(P(rp_embedding))]),
    "rp_embedding_in_dim": (c_uint32, [P(rp_embedding)]),
    "rp_embedding_out_dim": (c_uint32, [P(rp_embedding)]),
    "rp_embedding_apply": (c_int, [P(rp_embedding), c_float_p, c_uint64, c_float_p, c_size_t]),
    "rp_embedding_get": (c_int, [P(rp_embedding), c_float_p, c_size_t, c_float_p, c_size_t]),
    "rp_embedding_free": (None, [P(rp_embedding)]),
    "rp_trainer_params_init": (c_int, [P(S.TrainerParams), c_size_t]),
    "rp_trainer_create": (c_int, [P(S.TrainerParams), P(P(rp_trainer))]),
    "rp_trainer_add_image_features": (c_int, [P(rp_trainer), c_float_p, c_uint32, c_uint32]),
    "rp_trainer_image_count": (c_uint32, [P(rp_trainer)]),
    "rp_trainer_patch_count": (c_uint64, [P(rp_trainer)]),
    "rp_trainer_train": (c_int, [P(rp_trainer), PROGRESS_FN, c_void_p]),
    "rp_trainer_get_embedding": (c_int, [P(rp_trainer), P(P(rp_embedding))]),
    "rp_trainer_get_history": (c_int, [P(rp_trainer), c_double_p, c_double_p, c_uint32, P(c_uint32),
                                       P(c_int32)]),
    "rp_trainer_free": (None, [P(rp_trainer)]),
    # scorer
    "rp_scorer_params_init": (c_int, [P(S.ScorerParams), c_size_t]),
    "rp_scorer_create": (c_int, [P(rp_extractor), P(rp_embedding), P(rp_bank), P(S.ScorerParams),
                                 P(P(rp_scorer))]),
    "rp_scorer_free": (None, [P(rp_scorer)]),
    "rp_scorer_get_info": (c_int, [P(rp_scorer), P(S.ScorerInfo), c_size_t]),
    "rp_scorer_score_features": (c_int, [P(rp_scorer), c_float_p, c_size_t, P(S.ScoreResult), c_float_p,
                                         c_size_t, c_float_p, c_size_t]),
    "rp_scorer_score": (c_int, [P(rp_scorer), P(rp_image), P(S.ScoreResult), c_float_p, c_size_t,
                                c_float_p, c_size_t]),
    "rp_scorer_map_to_image": (c_int, [P(rp_scorer), c_float_p, c_size_t, c_uint32, c_uint32, c_float_p,
                                       c_size_t]),
    "rp_scorer_mask_to_input": (c_int, [P(rp_scorer), P(rp_image), c_uint32, c_uint8_p, c_size_t]),
    # metrics
    "rp_metric_auroc": (c_int, [c_float_p, c_uint8_p, c_uint64, c_double_p]),
    "rp_metric_pixel_auroc": (c_int, [P(c_float_p), P(c_uint8_p), c_uint32, c_uint32, c_uint32, c_double_p]),
    "rp_metric_aupro": (c_int, [P(c_float_p), P(c_uint8_p), c_uint32, c_uint32, c_uint32, c_double,
                                c_double_p]),
    # model (the one-call API)
    "rp_train_params_init": (c_int, [P(S.TrainParams), c_size_t]),
    "rp_train": (c_int, [P(c_char_p), c_uint32, P(S.TrainParams), PROGRESS_FN, c_void_p, P(P(rp_model))]),
    "rp_train_images": (c_int, [P(P(rp_image)), c_uint32, P(S.TrainParams), PROGRESS_FN, c_void_p,
                                P(P(rp_model))]),
    "rp_score_image": (c_int, [P(rp_model), P(rp_image), P(S.ScoreResult), c_float_p, c_size_t, c_uint8_p,
                               c_size_t]),
    "rp_score_images": (c_int, [P(rp_model), P(P(rp_image)), c_uint32, P(S.ScoreResult), P(c_float_p),
                                P(c_size_t)]),
    "rp_model_extractor": (P(rp_extractor), [P(rp_model)]),
    "rp_model_embedding": (P(rp_embedding), [P(rp_model)]),
    "rp_model_bank": (P(rp_bank), [P(rp_model)]),
    "rp_model_scorer": (P(rp_scorer), [P(rp_model)]),
    "rp_model_method": (c_int32, [P(rp_model)]),
    "rp_model_get_memory": (c_int, [P(rp_model), P(S.ModelMemory), c_size_t]),
    "rp_model_free": (None, [P(rp_model)]),
    "rp_model_get_thresholds": (c_int, [P(rp_model), P(S.ModelThresholds), c_size_t]),
    "rp_model_category_count": (c_uint32, [P(rp_model)]),
    "rp_model_add_normals": (c_int, [P(rp_model), c_char_p, P(c_char_p), c_uint32, P(S.TrainParams), PROGRESS_FN,
                                     c_void_p]),
    "rp_model_add_normal_images": (c_int, [P(rp_model), c_char_p, P(P(rp_image)), c_uint32, P(S.TrainParams),
                                           PROGRESS_FN, c_void_p]),
    "rp_model_category_name": (c_char_p, [P(rp_model), c_uint32]),
    "rp_model_get_category_thresholds": (c_int, [P(rp_model), c_uint32, P(S.ModelThresholds), c_size_t]),
    "rp_model_set_thresholds": (c_int, [P(rp_model), P(S.ModelThresholds)]),
    "rp_calibration_params_init": (c_int, [P(S.CalibrationParams), c_size_t]),
    "rp_model_calibrate": (c_int, [P(rp_model), P(P(rp_image)), c_uint32, P(S.CalibrationParams), PROGRESS_FN,
                                   c_void_p]),
    "rp_model_calibrate_labelled": (c_int, [P(rp_model), P(P(rp_image)), c_uint8_p, c_uint32,
                                            P(S.CalibrationParams), PROGRESS_FN, c_void_p]),
    "rp_model_save_params_init": (c_int, [P(S.ModelSaveParams), c_size_t]),
    "rp_model_save": (c_int, [P(rp_model), c_char_p, P(S.ModelSaveParams)]),
    "rp_model_load_params_init": (c_int, [P(S.ModelLoadParams), c_size_t]),
    "rp_model_load": (c_int, [c_char_p, P(S.ModelLoadParams), P(P(rp_model))]),
    "rp_model_load_memory": (c_int, [c_void_p, c_size_t, P(S.ModelLoadParams), P(P(rp_model))]),
}


def _pkg_config_libdir():
    """libreconpatch's libdir from pkg-config, or None (no pkg-config, no .pc file)."""
    exe = shutil.which("pkg-config")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--variable=libdir", "libreconpatch"], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _candidates():
    """Library files to try, in order, with where each came from (for the error message)."""
    env = os.environ.get("RECONPATCH_LIB")
    if env:
        yield env, "RECONPATCH_LIB"
    libdir = _pkg_config_libdir()
    if libdir:
        yield os.path.join(libdir, SONAME), "pkg-config"
    found = ctypes.util.find_library("reconpatch")
    if found:
        yield found, "find_library"
    yield SONAME, "dynamic loader"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    built = glob.glob(os.path.join(root, "build*", "libreconpatch", SONAME))
    for path in sorted(built, key=os.path.getmtime, reverse=True):
        yield path, "build tree"


def _load():
    tried = []
    for path, origin in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s): %s" % (path, origin, e))
            if origin == "RECONPATCH_LIB":
                # An explicit choice that fails is an error, not a reason to pick another library.
                break
            continue
        return lib, path
    raise OSError("reconpatch: could not load %s; tried:\n  %s\nSet RECONPATCH_LIB to the library file."
                  % (SONAME, "\n  ".join(tried)))


lib, path = _load()

_present = set()
for _name, (_restype, _argtypes) in PROTOTYPES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        continue
    _fn.restype = _restype
    _fn.argtypes = _argtypes
    _present.add(_name)


def has(name):
    """True when the loaded library exports the function name (newer functions may be missing)."""
    return name in _present
