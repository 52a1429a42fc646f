#!/usr/bin/python3
# kernels_sklearn_ref.py — scikit-learn's score on one of its shipped datasets with the split
# the C test uses (row i is held out when i % 4 == 0); prints the score, exit 77 if absent.
import sys

try:
    import numpy as np
    from sklearn import datasets
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.metrics import accuracy_score, r2_score
except ImportError:
    sys.exit(77)


def main():
    name, model = sys.argv[1], sys.argv[2]
    loaders = {"iris": datasets.load_iris, "wine": datasets.load_wine,
               "breast_cancer": datasets.load_breast_cancer, "digits": datasets.load_digits,
               "diabetes": datasets.load_diabetes}
    try:
        if name == "diabetes":
            d = loaders[name](scaled=False)
        else:
            d = loaders[name]()
    except Exception:
        sys.exit(77)
    x, y = d.data.astype(np.float64), d.target
    test = np.arange(len(y)) % 4 == 0
    sc = StandardScaler().fit(x[~test])
    xtr, xte = sc.transform(x[~test]), sc.transform(x[test])
    if model == "logreg":
        m = LogisticRegression(max_iter=5000).fit(xtr, y[~test])
        score = accuracy_score(y[test], m.predict(xte))
    elif model == "mlp":
        m = MLPClassifier(hidden_layer_sizes=(32,), max_iter=2000, random_state=0).fit(xtr, y[~test])
        score = accuracy_score(y[test], m.predict(xte))
    elif model == "ridge":
        m = Ridge(alpha=1.0).fit(xtr, y[~test])
        score = r2_score(y[test], m.predict(xte))
    else:
        sys.exit(2)
    print("%.6f" % score)


main()
