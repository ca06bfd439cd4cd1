// example.cpp: the C++ wrappers end to end. Trains a PatchCore model on a folder of normal
// images, saves and reloads it, and scores the images given after the folder.
//
//   rp-example-cpp TRAIN_DIR [IMAGE...]
//   rp-example-cpp --version
//
// e.g. rp-example-cpp examples/data/bottle/train/good examples/data/bottle/test/*/000.png
#include <reconpatch/reconpatch.hpp>

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

// The PNG and JPEG files of a folder, sorted.
static std::vector<std::string> list_images(const std::string &dir)
{
    std::vector<std::string> out;
    DIR *d = opendir(dir.c_str());
    if (!d) throw rp::Error(RP_E_IO, "cannot read folder " + dir);
    while (dirent *e = readdir(d)) {
        std::string n = e->d_name;
        std::string ext = n.size() > 4 ? n.substr(n.size() - 4) : "";
        std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
        if (n[0] != '.' && (ext == ".png" || ext == ".jpg" || ext == "jpeg")) out.push_back(dir + "/" + n);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

int main(int argc, char **argv)
{
    if (argc == 2 && std::string(argv[1]) == "--version") {
        std::cout << "libreconpatch " << rp::version() << "\n";
        return 0;
    }
    if (argc < 2) {
        std::cerr << "usage: rp-example-cpp TRAIN_DIR [IMAGE...] | --version\n";
        return 2;
    }
    try {
        std::vector<std::string> train = list_images(argv[1]);
        std::cerr << "training PatchCore on " << train.size() << " images from " << argv[1] << "\n";
        rp::TrainOptions o;
        o.method = RP_METHOD_PATCHCORE;
        o.calibration_fraction = 0.2; // a fifth of the images set the decision threshold
        rp::Model model = rp::Model::train(train, o);

        // A saved model reloads with the same scores.
        const std::string path = "rp-example-cpp.rpm";
        model.save(path);
        rp::Model loaded = rp::Model::load(path);
        std::remove(path.c_str());

        for (int i = 2; i < argc; i++) {
            rp::Image img = rp::Image::load(argv[i]);
            rp::Score s = loaded.score(img, true);
            float hi = *std::max_element(s.map.begin(), s.map.end());
            std::printf("%s: score %.4f (max patch %.4f, map peak %.4f)%s\n", argv[i], s.score, s.score_max, hi,
                        s.decision == RP_DECISION_NONE ? "" : s.anomalous() ? " anomalous" : " normal");
        }
    } catch (const rp::Error &e) {
        std::cerr << "rp-example-cpp: " << e.what() << " (" << e.name() << ")\n";
        return 1;
    }
    return 0;
}
