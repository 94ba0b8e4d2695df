"""Entry point `main`: train a seeded random forest on the breast-cancer data and log everything needed to repeat it."""
from __future__ import annotations

import argparse

import mlflow
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score

from data import split


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--test-size", type=float, default=0.25)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse(argv)
    X_train, X_test, y_train, y_test, dataset = split(args.seed, args.test_size)
    model = RandomForestClassifier(n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=args.seed)
    model.fit(X_train, y_train)
    predicted = model.predict(X_test)
    # `mlflow run` has already started the run; start_run() attaches to it.
    with mlflow.start_run():
        mlflow.log_params({"n_estimators": args.n_estimators, "max_depth": args.max_depth,
                           "random_state": args.seed, "test_size": args.test_size})
        mlflow.log_input(dataset, context="training")
        mlflow.log_metrics({"accuracy": accuracy_score(y_test, predicted),
                            "f1_macro": f1_score(y_test, predicted, average="macro")})
        mlflow.set_tag("purpose", "project")
        mlflow.sklearn.log_model(
            model, name="model", input_example=X_train.head(3),
            skops_trusted_types=["sklearn.tree._tree.Tree"],
            # Named requirements: inference would start a second Python just to find these.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"],
        )
    print(f"accuracy={accuracy_score(y_test, predicted):.6f}")


if __name__ == "__main__":
    main()
