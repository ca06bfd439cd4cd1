"""Train PatchCore on a folder of normal images, score one image, save its anomaly heat map.
Usage: python3 examples/python_example.py [TRAIN_FOLDER] [IMAGE] [OUT_PREFIX]"""
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "python"))  # the binding, when run from the source tree
import reconpatch as rp  # noqa: E402

train = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "data", "bottle", "train", "good")
test = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "data", "bottle", "test", "broken_large", "000.png")
out = sys.argv[3] if len(sys.argv) > 3 else "anomaly"
model = rp.Model.train(train, method="patchcore", progress=lambda p: print(p.stage_name, p.done, "/", p.total))
result = model.score(test)
print("%s: image score %.3f (max patch score %.3f)" % (test, result.score, result.score_max))
np.save(out + "_map.npy", result.map)  # float32, the image's height x width
with rp.Image.from_file(test) as image, image.overlay_heatmap(result.map, alpha=0.5) as heat:
    heat.save_png(out + "_heatmap.png")
