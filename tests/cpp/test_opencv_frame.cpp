// rp::Image::from_mat against the same image read from its file: OpenCV's decoder (cv::imread)
// and the library's are independent, so equal pixels prove the BGR / BGRA / gray orders and the
// row step are handled; then the scores of a trained model on both images must be equal. Bad Mats
// must throw rp::Error with RP_E_INVALID_ARG and a message naming the problem. Needs OpenCV's core
// and imgcodecs (Debian libopencv-core-dev, libopencv-imgcodecs-dev); the score part needs the
// cached weights and skips without them.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <reconpatch/reconpatch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static int failures = 0;
#define CHECK(cond, ...)                                                                                          \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                          \
            std::printf(__VA_ARGS__);                                                                             \
            std::printf("\n");                                                                                    \
            failures++;                                                                                           \
        }                                                                                                         \
    } while (0)

static std::string source_dir()
{
    const char *d = std::getenv("RP_SOURCE_DIR");
    return d ? d : ".";
}

// Pixel (x, y) channel c of an rp::Image against the expected RGB (or gray) value.
static int count_mismatches(const rp::Image &img, const rp::Image &ref, uint32_t x0, uint32_t y0)
{
    int bad = 0;
    const uint32_t c = img.channels(), rc = ref.channels();
    for (uint32_t y = 0; y < img.height(); y++)
        for (uint32_t x = 0; x < img.width(); x++)
            for (uint32_t k = 0; k < c; k++) {
                uint8_t got = img.pixels()[(static_cast<size_t>(y) * img.width() + x) * c + k];
                uint8_t want = ref.pixels()[(static_cast<size_t>(y + y0) * ref.width() + x + x0) * rc + k];
                bad += got != want;
            }
    return bad;
}

static void expect_error(const cv::Mat &m, const char *word)
{
    try {
        rp::Image::from_mat(m);
        CHECK(false, "no exception for a Mat that should say '%s'", word);
    } catch (const rp::Error &e) {
        CHECK(e.code() == RP_E_INVALID_ARG, "code %s", e.name());
        CHECK(std::string(e.what()).find(word) != std::string::npos, "message '%s' lacks '%s'", e.what(), word);
    }
}

int main()
{
    const std::string dir = source_dir() + "/examples/data/bottle";
    const std::string path = dir + "/test/broken_large/000.png";
    const rp::Image file = rp::Image::load(path);
    const cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
    CHECK(!bgr.empty(), "cv::imread %s", path.c_str());
    if (bgr.empty()) return 1;

    // BGR, continuous
    const rp::Image from_bgr = rp::Image::from_mat(bgr);
    CHECK(from_bgr.width() == file.width() && from_bgr.height() == file.height() && from_bgr.channels() == 3,
          "%u x %u x %u", from_bgr.width(), from_bgr.height(), from_bgr.channels());
    CHECK(count_mismatches(from_bgr, file, 0, 0) == 0, "BGR pixels differ from the file's RGB");

    // A ROI: rows are not contiguous, the step is the parent's
    const cv::Rect box(13, 7, 101, 67);
    const cv::Mat roi = bgr(box);
    CHECK(!roi.isContinuous(), "the ROI should have a row step larger than its width");
    const rp::Image from_roi = rp::Image::from_mat(roi);
    CHECK(from_roi.width() == 101 && from_roi.height() == 67, "%u x %u", from_roi.width(), from_roi.height());
    CHECK(count_mismatches(from_roi, file, 13, 7) == 0, "ROI pixels differ from the file's crop");

    // BGRA: alpha dropped
    cv::Mat bgra;
    cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
    const rp::Image from_bgra = rp::Image::from_mat(bgra);
    CHECK(from_bgra.channels() == 3, "%u channels", from_bgra.channels());
    CHECK(count_mismatches(from_bgra, file, 0, 0) == 0, "BGRA pixels differ from the file's RGB");

    // Gray, as a ROI too: the values are OpenCV's gray conversion, read back unchanged
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    const cv::Mat gray_roi = gray(box);
    const rp::Image from_gray = rp::Image::from_mat(gray_roi);
    CHECK(from_gray.channels() == 1 && from_gray.width() == 101, "%u channels", from_gray.channels());
    int gray_bad = 0;
    for (int y = 0; y < gray_roi.rows; y++)
        for (int x = 0; x < gray_roi.cols; x++)
            gray_bad += from_gray.pixels()[static_cast<size_t>(y) * 101 + x] != gray_roi.at<uint8_t>(y, x);
    CHECK(gray_bad == 0, "%d gray pixels differ", gray_bad);

    // Bad Mats
    expect_error(cv::Mat(), "empty");
    expect_error(cv::Mat(4, 4, CV_16UC3, cv::Scalar(0)), "depth");
    expect_error(cv::Mat(4, 4, CV_8UC2, cv::Scalar(0)), "channels");
    const int sizes[3] = {2, 2, 2};
    expect_error(cv::Mat(3, sizes, CV_8UC1, cv::Scalar(0)), "dimensions");

    if (failures) return 1;
    char weights[4096];
    if (rp_default_weights_path(weights, sizeof weights) != RP_OK) {
        std::printf("pixel checks passed; skip the scores: %s\n", rp_last_error_message());
        return 77;
    }
    // Scores: a small PatchCore model, the same image from the file and from the Mats
    std::vector<std::string> train;
    for (const char *n : {"000.png", "010.png", "020.png", "030.png"}) train.push_back(dir + "/train/good/" + n);
    rp::TrainOptions o;
    o.method = RP_METHOD_PATCHCORE;
    const rp::Model model = rp::Model::train(train, o);
    const double s_file = model.score(file).score;
    const double s_bgr = model.score(from_bgr).score;
    const double s_bgra = model.score(from_bgra).score;
    std::printf("scores: file %.9g, BGR Mat %.9g, BGRA Mat %.9g\n", s_file, s_bgr, s_bgra);
    CHECK(s_file > 0, "the defective image's score %.9g", s_file);
    CHECK(s_bgr == s_file && s_bgra == s_file, "scores differ");
    return failures ? 1 : 0;
}
