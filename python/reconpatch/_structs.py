"""ctypes mirrors of every public struct, field for field in header order.

tests/python/test_struct_layout.py checks sizes and offsets against the C compiler's (a small C
program prints them) and the field names against the headers, so a field appended in C without
being appended here fails a test.
"""
import ctypes

u32, i32, u64, i64 = ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint64, ctypes.c_int64
f64, cstr, vp = ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p


class _Struct(ctypes.Structure):
    """A public struct: struct_size first; as_dict() for printing and tests."""

    def as_dict(self):
        return {name: getattr(self, name) for name, _ in self._fields_}

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__,
                           ", ".join("%s=%r" % kv for kv in self.as_dict().items()))


# core.h
class Progress(_Struct):
    _c_name_ = "rp_progress"
    _fields_ = [("struct_size", u32), ("stage", i32), ("done", i64), ("total", i64),
                ("epoch", i32), ("step", i32), ("loss", f64), ("val_loss", f64)]


# image.h
class ImageLoadParams(_Struct):
    _c_name_ = "rp_image_load_params"
    _fields_ = [("struct_size", u32), ("reserved0", u32), ("max_pixels", u64)]


# extractor.h
class ExtractorParams(_Struct):
    _c_name_ = "rp_extractor_params"
    _fields_ = [("struct_size", u32), ("arch", i32), ("weights_path", cstr), ("output", i32),
                ("precision", i32), ("num_threads", u32), ("resize", u32), ("crop", u32),
                ("no_crop", u32), ("normalization", i32), ("feature_dim", u32), ("patch_size", u32),
                ("max_pixels", u64), ("keep_aspect", u32), ("reserved0", u32)]


class ExtractorInfo(_Struct):
    _c_name_ = "rp_extractor_info"
    _fields_ = [("struct_size", u32), ("arch", i32), ("layout", i32), ("precision", i32),
                ("input_size", u32), ("layer2_channels", u32), ("layer2_size", u32),
                ("layer3_channels", u32), ("layer3_size", u32), ("feature_dim", u32),
                ("grid_size", u32), ("num_threads", u32), ("resize", u32), ("no_crop", u32),
                ("keep_aspect", u32)]


# bank.h
class BankParams(_Struct):
    _c_name_ = "rp_bank_params"
    _fields_ = [("struct_size", u32), ("dim", u32), ("coreset_ratio", f64), ("coreset_count", u64),
                ("projection_dim", u32), ("num_threads", u32), ("seed", u64), ("knn_int8", u32),
                ("knn_bf16", u32)]


# scorer.h
class ScorerParams(_Struct):
    _c_name_ = "rp_scorer_params"
    _fields_ = [("struct_size", u32), ("reweight_neighbors", u32), ("map_sigma", f64),
                ("num_threads", u32), ("resize", u32), ("no_crop", u32), ("grid_size", u32),
                ("input_size", u32), ("keep_aspect", u32)]


class ScorerInfo(_Struct):
    _c_name_ = "rp_scorer_info"
    _fields_ = [("struct_size", u32), ("grid_size", u32), ("input_size", u32), ("feature_dim", u32),
                ("bank_dim", u32), ("reweight_neighbors", u32), ("bank_size", u64), ("map_sigma", f64),
                ("resize", u32), ("crop_offset", u32), ("no_crop", u32), ("num_threads", u32),
                ("has_extractor", u32), ("has_embedding", u32), ("keep_aspect", u32), ("reserved0", u32)]


class ScoreResult(_Struct):
    _c_name_ = "rp_score_result"
    _fields_ = [("struct_size", u32), ("max_patch", u32), ("score", f64), ("score_max", f64),
                ("reweight", f64), ("max_patch_neighbor", u64), ("decision", i32), ("category", u32),
                ("threshold", f64), ("pixel_threshold", f64), ("mask_pixels", u64)]


# trainer.h
class TrainerParams(_Struct):
    _c_name_ = "rp_trainer_params"
    _fields_ = [("struct_size", u32), ("in_dim", u32), ("repr_dim", u32), ("proj_dim", u32),
                ("proj_hidden", u32), ("batch_size", u32), ("epochs", u32), ("steps_per_epoch", u32),
                ("patience", u32), ("k", u32), ("val_batches", u32), ("raw_targets", u32),
                ("export_target", u32), ("num_threads", u32), ("seed", u64), ("max_steps", u64),
                ("lr", f64), ("lr_min", f64), ("weight_decay", f64), ("sigma", f64), ("alpha", f64),
                ("margin", f64), ("ema_momentum", f64), ("val_fraction", f64),
                ("sampler", u32), ("sampler_window", u32),
                ("target_centering", u32), ("reserved0", u32)]


# model.h
class TrainParams(_Struct):
    _c_name_ = "rp_train_params"
    _fields_ = [("struct_size", u32), ("method", i32), ("extractor", ctypes.POINTER(ExtractorParams)),
                ("trainer", ctypes.POINTER(TrainerParams)), ("bank", ctypes.POINTER(BankParams)),
                ("scorer", ctypes.POINTER(ScorerParams)), ("batch_size", u32), ("reserved0", u32),
                ("calibration_fraction", f64), ("calibration_quantile", f64),
                ("category_count", u32), ("reserved1", u32), ("image_categories", ctypes.POINTER(u32)),
                ("category_names", ctypes.POINTER(ctypes.c_char_p)), ("feature_memory_limit", u64),
                ("spill_dir", ctypes.c_char_p), ("heads", i32), ("reserved2", u32)]


class ModelThresholds(_Struct):
    _c_name_ = "rp_model_thresholds"
    _fields_ = [("struct_size", u32), ("rule", i32), ("image_threshold", f64), ("pixel_threshold", f64),
                ("quantile", f64), ("f1", f64), ("calibration_images", u32), ("reserved0", u32)]


class ModelMemory(_Struct):
    _c_name_ = "rp_model_memory"
    _fields_ = [("struct_size", u32), ("reserved0", u32), ("backbone_weights", u64), ("backbone_activations", u64),
                ("heads", u64), ("banks", u64), ("router", u64), ("total", u64)]


class CalibrationParams(_Struct):
    _c_name_ = "rp_calibration_params"
    _fields_ = [("struct_size", u32), ("reserved0", u32), ("quantile", f64)]


class ModelSaveParams(_Struct):
    _c_name_ = "rp_model_save_params"
    _fields_ = [("struct_size", u32), ("embed_weights", u32), ("weights_path", cstr)]


class ModelLoadParams(_Struct):
    _c_name_ = "rp_model_load_params"
    _fields_ = [("struct_size", u32), ("num_threads", u32), ("weights_path", cstr), ("max_bytes", u64),
                ("precision", i32), ("reserved0", u32)]


ALL = [Progress, ImageLoadParams, ExtractorParams, ExtractorInfo, BankParams, ScorerParams, ScorerInfo,
       ScoreResult, TrainerParams, TrainParams, ModelThresholds, ModelMemory, CalibrationParams, ModelSaveParams,
       ModelLoadParams]
