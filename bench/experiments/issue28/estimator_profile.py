import sys, cProfile, pstats, warnings, time
import numpy as np
from handgrad.sklearn import MLPClassifier
rng = np.random.default_rng(0)
X = rng.random((60000, 784), dtype=np.float32); y = rng.integers(0, 10, 60000)
b = int(sys.argv[1])
def f():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(hidden_layer_sizes=(256, 128), activation="relu", solver="sgd", momentum=0.0, alpha=0.0, max_iter=1,
                      shuffle=False, batch_size=b, learning_rate_init=0.01, random_state=0).fit(X, y)
f()
pr = cProfile.Profile(); pr.enable(); f(); pr.disable()
pstats.Stats(pr).sort_stats("cumtime").print_stats(40)
