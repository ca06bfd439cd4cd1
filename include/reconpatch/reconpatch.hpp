// reconpatch.hpp: header-only C++11 wrappers over the libreconpatch C API.
//
// Each handle becomes a move-only class that frees it in its destructor (RAII); every failing call
// throws rp::Error carrying the RP_E_* code and the library's message. Nothing here is compiled
// into libreconpatch.so: the header only calls the exported C functions, so it works with any
// library of the same major version.
//
//   rp::Model m = rp::Model::train({"good1.png", "good2.png"});
//   m.save("bottle.rpm");
//   rp::Score s = m.score(rp::Image::load("test.png"));
//
// Threads: as in C. const methods of Model, Extractor and Scorer may run from several threads at
// once; an Image may be read by several threads; anything non-const needs exclusive use.
#ifndef RECONPATCH_HPP
#define RECONPATCH_HPP

#include <reconpatch/reconpatch.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rp {

// A failed libreconpatch call: code() is the RP_E_* value, what() the library's message.
class Error : public std::runtime_error {
public:
    Error(int code, const std::string &message) : std::runtime_error(message), code_(code) {}
    int code() const { return code_; }
    // "RP_E_IO" and so on.
    const char *name() const { return rp_error_name(code_); }

private:
    int code_;
};

namespace detail {
// Throw the thread's last error if rc is a failure.
inline void check(int rc)
{
    if (rc != RP_OK) throw Error(rc, rp_last_error_message());
}

// A move-only owner of a C handle T freed by Free.
template <typename T, void (*Free)(T *)> class Handle {
public:
    Handle() : p_(nullptr) {}
    explicit Handle(T *p) : p_(p) {}
    Handle(Handle &&o) noexcept : p_(o.p_) { o.p_ = nullptr; }
    Handle &operator=(Handle &&o) noexcept
    {
        if (this != &o) {
            Free(p_);
            p_ = o.p_;
            o.p_ = nullptr;
        }
        return *this;
    }
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    ~Handle() { Free(p_); }
    T *get() const { return p_; }
    T *release()
    {
        T *p = p_;
        p_ = nullptr;
        return p;
    }

private:
    T *p_;
};
} // namespace detail

inline std::string version() { return rp_version_string(); }

// ---- images ----------------------------------------------------------------------------------
class Image {
public:
    // Decode a PNG or JPEG file.
    static Image load(const std::string &path)
    {
        rp_image *img = nullptr;
        detail::check(rp_image_load_file(path.c_str(), nullptr, &img));
        return Image(img);
    }
    // Copy caller pixels (RP_PIXEL_*; stride 0 = tightly packed).
    static Image from_pixels(const void *pixels, uint32_t width, uint32_t height, int32_t pixel_format,
                             size_t stride_bytes = 0)
    {
        rp_image *img = nullptr;
        detail::check(rp_image_from_pixels(pixels, width, height, stride_bytes, pixel_format, &img));
        return Image(img);
    }
#ifdef OPENCV_CORE_HPP
    // An OpenCV frame: 8-bit gray (CV_8UC1), BGR (CV_8UC3, OpenCV's order) or BGRA (CV_8UC4, alpha
    // dropped), with any row step (a cv::Mat ROI works as it is). Only compiled when
    // <opencv2/core.hpp> is included before this header, so the library never needs OpenCV.
    // The pixels are copied once, by rp_image_from_pixels, straight from the Mat's rows into the
    // library's RGB or gray layout: there is no further copy, and the Mat may change or go away
    // afterwards. (The library owns its pixels; it has no call that borrows caller memory.)
    static Image from_mat(const cv::Mat &mat)
    {
        if (mat.empty()) throw Error(RP_E_INVALID_ARG, "rp::Image::from_mat: the cv::Mat is empty");
        if (mat.dims != 2)
            throw Error(RP_E_INVALID_ARG, "rp::Image::from_mat: the cv::Mat has " + std::to_string(mat.dims) +
                                              " dimensions, an image has 2");
        if (mat.depth() != CV_8U)
            throw Error(RP_E_INVALID_ARG, "rp::Image::from_mat: the cv::Mat's depth is " +
                                              std::to_string(mat.depth()) + ", only 8-bit (CV_8U) is supported");
        int32_t format = 0;
        switch (mat.channels()) {
        case 1: format = RP_PIXEL_GRAY8; break;
        case 3: format = RP_PIXEL_BGR8; break;
        case 4: format = RP_PIXEL_BGRA8; break;
        default:
            throw Error(RP_E_INVALID_ARG, "rp::Image::from_mat: the cv::Mat has " + std::to_string(mat.channels()) +
                                              " channels; 1 (gray), 3 (BGR) or 4 (BGRA) are supported");
        }
        return from_pixels(mat.data, static_cast<uint32_t>(mat.cols), static_cast<uint32_t>(mat.rows), format,
                           mat.step[0]);
    }
#endif
    // Take ownership of an rp_image from the C API.
    explicit Image(rp_image *img) : h_(img) {}

    uint32_t width() const { return rp_image_width(h_.get()); }
    uint32_t height() const { return rp_image_height(h_.get()); }
    uint32_t channels() const { return rp_image_channels(h_.get()); }
    const uint8_t *pixels() const { return rp_image_pixels(h_.get()); }
    const rp_image *get() const { return h_.get(); }

    void save_png(const std::string &path) const { detail::check(rp_image_save_png(h_.get(), path.c_str())); }

    // The map (width x height values) in "jet" colours over [lo, hi], alpha-blended on this image.
    Image overlay_heatmap(const std::vector<float> &map, float lo, float hi, float alpha = 0.5f) const
    {
        rp_image *out = nullptr;
        detail::check(rp_image_overlay_heatmap(h_.get(), map.data(), map.size(), lo, hi, alpha, &out));
        return Image(out);
    }

private:
    detail::Handle<rp_image, rp_image_free> h_;
};

// ---- the one-call model ----------------------------------------------------------------------
// What Model::score returns.
struct Score {
    double score = 0;       // the image score (reweighted)
    double score_max = 0;   // the plain maximum patch score
    int32_t decision = RP_DECISION_NONE; // RP_DECISION_NONE (no threshold), _NORMAL or _ANOMALOUS
    double threshold = 0;   // the image threshold used (NaN without one)
    std::vector<float> map; // anomaly map, image width x height, row-major (empty unless asked)
    std::vector<uint8_t> mask; // defect mask, same geometry, 1 = defect (empty unless asked)
    bool anomalous() const { return decision == RP_DECISION_ANOMALOUS; }
};

// Training settings; zero / empty means the library's default.
struct TrainOptions {
    int32_t method = RP_METHOD_RECONPATCH; // or RP_METHOD_PATCHCORE
    std::string weights;                   // backbone weights; empty = the cached Keras ResNet-50
    double coreset_ratio = 0;              // 0 = 10%
    double calibration_fraction = 0;       // share held out to set thresholds; 0 = none
    uint32_t epochs = 0;                   // ReConPatch epochs; 0 = the default
    bool no_crop = false;                  // resize straight to the input size
    bool keep_aspect = false;              // shorter side to 256, keep the aspect ratio, then crop
    rp_progress_fn progress = nullptr;     // optional progress callback
    void *user_data = nullptr;
};

class Model {
public:
    // Train on normal images given as files.
    static Model train(const std::vector<std::string> &paths, const TrainOptions &o = TrainOptions())
    {
        std::vector<const char *> c;
        for (const std::string &p : paths) c.push_back(p.c_str());
        return train_with(o, [&](const rp_train_params *p, rp_model **out) {
            return rp_train(c.data(), static_cast<uint32_t>(c.size()), p, o.progress, o.user_data, out);
        });
    }
    // Train on decoded images.
    static Model train(const std::vector<const Image *> &images, const TrainOptions &o = TrainOptions())
    {
        std::vector<const rp_image *> c;
        for (const Image *i : images) c.push_back(i ? i->get() : nullptr);
        return train_with(o, [&](const rp_train_params *p, rp_model **out) {
            return rp_train_images(c.data(), static_cast<uint32_t>(c.size()), p, o.progress, o.user_data, out);
        });
    }
    // Load a model file written by save().
    static Model load(const std::string &path)
    {
        rp_model *m = nullptr;
        detail::check(rp_model_load(path.c_str(), nullptr, &m));
        return Model(m);
    }
    explicit Model(rp_model *m) : h_(m) {}

    // The decision thresholds (rule RP_THRESHOLD_RULE_NONE when there are none).
    rp_model_thresholds thresholds() const
    {
        rp_model_thresholds t;
        std::memset(&t, 0, sizeof t);
        t.struct_size = sizeof t;
        detail::check(rp_model_get_thresholds(h_.get(), &t, sizeof t));
        return t;
    }

    // Write the model file; embed_weights stores the backbone weights in it too.
    void save(const std::string &path, bool embed_weights = false) const
    {
        rp_model_save_params p;
        detail::check(rp_model_save_params_init(&p, sizeof p));
        p.embed_weights = embed_weights ? 1u : 0u;
        detail::check(rp_model_save(h_.get(), path.c_str(), &p));
    }

    // Score one image; with_map also returns the anomaly map in the image's geometry, with_mask
    // the defect mask (needs a model with a pixel threshold: RP_E_STATE otherwise).
    Score score(const Image &image, bool with_map = false, bool with_mask = false) const
    {
        Score s;
        const size_t n = static_cast<size_t>(image.width()) * image.height();
        if (with_map) s.map.resize(n);
        if (with_mask) s.mask.resize(n);
        rp_score_result r;
        std::memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        detail::check(rp_score_image(h_.get(), image.get(), &r, with_map ? s.map.data() : nullptr, s.map.size(),
                                     with_mask ? s.mask.data() : nullptr, s.mask.size()));
        s.score = r.score;
        s.score_max = r.score_max;
        s.decision = r.decision;
        s.threshold = r.threshold;
        return s;
    }

    int32_t method() const { return rp_model_method(h_.get()); }
    const rp_model *get() const { return h_.get(); }

private:
    template <typename F> static Model train_with(const TrainOptions &o, F call)
    {
        rp_extractor_params ep;
        detail::check(rp_extractor_params_init(&ep, sizeof ep));
        ep.weights_path = o.weights.empty() ? nullptr : o.weights.c_str();
        ep.no_crop = o.no_crop ? 1u : 0u;
        ep.keep_aspect = o.keep_aspect ? 1u : 0u;
        rp_bank_params bp;
        detail::check(rp_bank_params_init(&bp, sizeof bp));
        bp.coreset_ratio = o.coreset_ratio;
        rp_trainer_params tp;
        detail::check(rp_trainer_params_init(&tp, sizeof tp));
        tp.epochs = o.epochs;
        rp_train_params p;
        detail::check(rp_train_params_init(&p, sizeof p));
        p.method = o.method;
        p.extractor = &ep;
        p.bank = &bp;
        p.trainer = &tp;
        p.calibration_fraction = o.calibration_fraction;
        rp_model *m = nullptr;
        detail::check(call(&p, &m));
        return Model(m);
    }

    detail::Handle<rp_model, rp_model_free> h_;
};

// ---- lower-level handles, for applications that wire the steps themselves --------------------
class Extractor {
public:
    explicit Extractor(const rp_extractor_params &p)
    {
        rp_extractor *e = nullptr;
        detail::check(rp_extractor_create(&p, &e));
        h_ = detail::Handle<rp_extractor, rp_extractor_free>(e);
    }
    rp_extractor_info info() const
    {
        rp_extractor_info i;
        i.struct_size = sizeof i;
        detail::check(rp_extractor_get_info(h_.get(), &i, sizeof i));
        return i;
    }
    // Patch features of one image: grid_size^2 x feature_dim floats.
    std::vector<float> patch_features(const Image &image) const
    {
        rp_extractor_info i = info();
        std::vector<float> f(static_cast<size_t>(i.grid_size) * i.grid_size * i.feature_dim);
        const rp_image *one = image.get();
        detail::check(rp_extractor_patch_features(h_.get(), &one, 1, f.data(), f.size()));
        return f;
    }
    const rp_extractor *get() const { return h_.get(); }

private:
    detail::Handle<rp_extractor, rp_extractor_free> h_;
};

class Bank {
public:
    explicit Bank(const rp_bank_params &p)
    {
        rp_bank *b = nullptr;
        detail::check(rp_bank_create(&p, &b));
        h_ = detail::Handle<rp_bank, rp_bank_free>(b);
    }
    void add(const std::vector<float> &vectors)
    {
        uint32_t dim = rp_bank_dim(h_.get());
        if (!dim || vectors.size() % dim) throw Error(RP_E_SHAPE, "rp::Bank::add: size is not a multiple of dim");
        detail::check(rp_bank_add(h_.get(), vectors.data(), vectors.size() / dim, dim));
    }
    void freeze(rp_progress_fn progress = nullptr, void *user_data = nullptr)
    {
        detail::check(rp_bank_freeze(h_.get(), progress, user_data));
    }
    uint64_t size() const { return rp_bank_size(h_.get()); }
    uint32_t dim() const { return rp_bank_dim(h_.get()); }
    const rp_bank *get() const { return h_.get(); }

private:
    detail::Handle<rp_bank, rp_bank_free> h_;
};

// Borrows the extractor and the bank: both must outlive the scorer (as in C).
class Scorer {
public:
    Scorer(const Extractor &extractor, const Bank &bank, const rp_scorer_params *p = nullptr)
    {
        rp_scorer *s = nullptr;
        detail::check(rp_scorer_create(extractor.get(), nullptr, bank.get(), p, &s));
        h_ = detail::Handle<rp_scorer, rp_scorer_free>(s);
    }
    rp_score_result score(const Image &image) const
    {
        rp_score_result r;
        std::memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        detail::check(rp_scorer_score(h_.get(), image.get(), &r, nullptr, 0, nullptr, 0));
        return r;
    }
    const rp_scorer *get() const { return h_.get(); }

private:
    detail::Handle<rp_scorer, rp_scorer_free> h_;
};

} // namespace rp

#endif
