/* Prints sizeof and offsetof of every field of every public struct as JSON, so the Python binding's
 * ctypes mirrors can be checked against what the C compiler actually lays out
 * (test_struct_layout.py). Add a STRUCT block here when a header gains a struct or a field. */
#include <stddef.h>
#include <stdio.h>

#include <reconpatch/reconpatch.h>

static int first_struct = 1, first_field = 1;

static void begin(const char *name, size_t size)
{
    printf("%s\n  \"%s\": {\"size\": %zu, \"fields\": {", first_struct ? "" : ",", name, size);
    first_struct = 0;
    first_field = 1;
}

static void field(const char *name, size_t offset, size_t size)
{
    printf("%s\n    \"%s\": [%zu, %zu]", first_field ? "" : ",", name, offset, size);
    first_field = 0;
}

static void end(void) { printf("\n  }}"); }

#define STRUCT(T) begin(#T, sizeof(T))
#define FIELD(T, f) field(#f, offsetof(T, f), sizeof(((T *)0)->f))

int main(void)
{
    printf("{");

    STRUCT(rp_progress);
    FIELD(rp_progress, struct_size); FIELD(rp_progress, stage); FIELD(rp_progress, done);
    FIELD(rp_progress, total); FIELD(rp_progress, epoch); FIELD(rp_progress, step);
    FIELD(rp_progress, loss); FIELD(rp_progress, val_loss);
    end();

    STRUCT(rp_image_load_params);
    FIELD(rp_image_load_params, struct_size); FIELD(rp_image_load_params, reserved0);
    FIELD(rp_image_load_params, max_pixels);
    end();

    STRUCT(rp_extractor_params);
    FIELD(rp_extractor_params, struct_size); FIELD(rp_extractor_params, arch);
    FIELD(rp_extractor_params, weights_path); FIELD(rp_extractor_params, output);
    FIELD(rp_extractor_params, precision); FIELD(rp_extractor_params, num_threads);
    FIELD(rp_extractor_params, resize); FIELD(rp_extractor_params, crop);
    FIELD(rp_extractor_params, no_crop); FIELD(rp_extractor_params, normalization);
    FIELD(rp_extractor_params, feature_dim); FIELD(rp_extractor_params, patch_size);
    FIELD(rp_extractor_params, max_pixels); FIELD(rp_extractor_params, keep_aspect);
    FIELD(rp_extractor_params, reserved0);
    end();

    STRUCT(rp_extractor_info);
    FIELD(rp_extractor_info, struct_size); FIELD(rp_extractor_info, arch);
    FIELD(rp_extractor_info, layout); FIELD(rp_extractor_info, precision);
    FIELD(rp_extractor_info, input_size); FIELD(rp_extractor_info, layer2_channels);
    FIELD(rp_extractor_info, layer2_size); FIELD(rp_extractor_info, layer3_channels);
    FIELD(rp_extractor_info, layer3_size); FIELD(rp_extractor_info, feature_dim);
    FIELD(rp_extractor_info, grid_size); FIELD(rp_extractor_info, num_threads);
    FIELD(rp_extractor_info, resize); FIELD(rp_extractor_info, no_crop);
    FIELD(rp_extractor_info, keep_aspect);
    end();

    STRUCT(rp_bank_params);
    FIELD(rp_bank_params, struct_size); FIELD(rp_bank_params, dim); FIELD(rp_bank_params, coreset_ratio);
    FIELD(rp_bank_params, coreset_count); FIELD(rp_bank_params, projection_dim);
    FIELD(rp_bank_params, num_threads); FIELD(rp_bank_params, seed); FIELD(rp_bank_params, knn_int8);
    FIELD(rp_bank_params, knn_bf16);
    end();

    STRUCT(rp_scorer_params);
    FIELD(rp_scorer_params, struct_size); FIELD(rp_scorer_params, reweight_neighbors);
    FIELD(rp_scorer_params, map_sigma); FIELD(rp_scorer_params, num_threads);
    FIELD(rp_scorer_params, resize); FIELD(rp_scorer_params, no_crop);
    FIELD(rp_scorer_params, grid_size); FIELD(rp_scorer_params, input_size);
    FIELD(rp_scorer_params, keep_aspect);
    end();

    STRUCT(rp_scorer_info);
    FIELD(rp_scorer_info, struct_size); FIELD(rp_scorer_info, grid_size); FIELD(rp_scorer_info, input_size);
    FIELD(rp_scorer_info, feature_dim); FIELD(rp_scorer_info, bank_dim);
    FIELD(rp_scorer_info, reweight_neighbors); FIELD(rp_scorer_info, bank_size);
    FIELD(rp_scorer_info, map_sigma); FIELD(rp_scorer_info, resize); FIELD(rp_scorer_info, crop_offset);
    FIELD(rp_scorer_info, no_crop); FIELD(rp_scorer_info, num_threads);
    FIELD(rp_scorer_info, has_extractor); FIELD(rp_scorer_info, has_embedding);
    FIELD(rp_scorer_info, keep_aspect);
    FIELD(rp_scorer_info, reserved0);
    end();

    STRUCT(rp_score_result);
    FIELD(rp_score_result, struct_size); FIELD(rp_score_result, max_patch); FIELD(rp_score_result, score);
    FIELD(rp_score_result, score_max); FIELD(rp_score_result, reweight);
    FIELD(rp_score_result, max_patch_neighbor); FIELD(rp_score_result, decision);
    FIELD(rp_score_result, category); FIELD(rp_score_result, threshold);
    FIELD(rp_score_result, pixel_threshold); FIELD(rp_score_result, mask_pixels);
    end();

    STRUCT(rp_trainer_params);
    FIELD(rp_trainer_params, struct_size); FIELD(rp_trainer_params, in_dim);
    FIELD(rp_trainer_params, repr_dim); FIELD(rp_trainer_params, proj_dim);
    FIELD(rp_trainer_params, proj_hidden); FIELD(rp_trainer_params, batch_size);
    FIELD(rp_trainer_params, epochs); FIELD(rp_trainer_params, steps_per_epoch);
    FIELD(rp_trainer_params, patience); FIELD(rp_trainer_params, k);
    FIELD(rp_trainer_params, val_batches); FIELD(rp_trainer_params, raw_targets);
    FIELD(rp_trainer_params, export_target); FIELD(rp_trainer_params, num_threads);
    FIELD(rp_trainer_params, seed); FIELD(rp_trainer_params, max_steps); FIELD(rp_trainer_params, lr);
    FIELD(rp_trainer_params, lr_min); FIELD(rp_trainer_params, weight_decay);
    FIELD(rp_trainer_params, sigma); FIELD(rp_trainer_params, alpha); FIELD(rp_trainer_params, margin);
    FIELD(rp_trainer_params, ema_momentum); FIELD(rp_trainer_params, val_fraction);
    FIELD(rp_trainer_params, sampler); FIELD(rp_trainer_params, sampler_window);
    FIELD(rp_trainer_params, target_centering); FIELD(rp_trainer_params, reserved0);
    end();

    STRUCT(rp_train_params);
    FIELD(rp_train_params, struct_size); FIELD(rp_train_params, method);
    FIELD(rp_train_params, extractor); FIELD(rp_train_params, trainer); FIELD(rp_train_params, bank);
    FIELD(rp_train_params, scorer); FIELD(rp_train_params, batch_size); FIELD(rp_train_params, reserved0);
    FIELD(rp_train_params, calibration_fraction); FIELD(rp_train_params, calibration_quantile);
    FIELD(rp_train_params, category_count); FIELD(rp_train_params, reserved1);
    FIELD(rp_train_params, image_categories); FIELD(rp_train_params, category_names);
    FIELD(rp_train_params, feature_memory_limit); FIELD(rp_train_params, spill_dir);
    FIELD(rp_train_params, heads); FIELD(rp_train_params, reserved2);
    end();

    STRUCT(rp_model_thresholds);
    FIELD(rp_model_thresholds, struct_size); FIELD(rp_model_thresholds, rule);
    FIELD(rp_model_thresholds, image_threshold); FIELD(rp_model_thresholds, pixel_threshold);
    FIELD(rp_model_thresholds, quantile); FIELD(rp_model_thresholds, f1);
    FIELD(rp_model_thresholds, calibration_images); FIELD(rp_model_thresholds, reserved0);
    end();

    STRUCT(rp_model_memory);
    FIELD(rp_model_memory, struct_size); FIELD(rp_model_memory, reserved0);
    FIELD(rp_model_memory, backbone_weights); FIELD(rp_model_memory, backbone_activations);
    FIELD(rp_model_memory, heads); FIELD(rp_model_memory, banks);
    FIELD(rp_model_memory, router); FIELD(rp_model_memory, total);
    end();

    STRUCT(rp_calibration_params);
    FIELD(rp_calibration_params, struct_size); FIELD(rp_calibration_params, reserved0);
    FIELD(rp_calibration_params, quantile);
    end();

    STRUCT(rp_model_save_params);
    FIELD(rp_model_save_params, struct_size); FIELD(rp_model_save_params, embed_weights);
    FIELD(rp_model_save_params, weights_path);
    end();

    STRUCT(rp_model_load_params);
    FIELD(rp_model_load_params, struct_size); FIELD(rp_model_load_params, num_threads);
    FIELD(rp_model_load_params, weights_path); FIELD(rp_model_load_params, max_bytes);
    FIELD(rp_model_load_params, precision); FIELD(rp_model_load_params, reserved0);
    end();

    printf("\n}\n");
    return 0;
}
