"""Entry point `evaluate`: score a logged model on the project's test split, in a run of its own."""
from __future__ import annotations

import argparse

import mlflow
from sklearn.metrics import accuracy_score

from data import split


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--test-size", type=float, default=0.25)
    args = parser.parse_args(argv)
    _, X_test, _, y_test, dataset = split(args.seed, args.test_size)
    model = mlflow.pyfunc.load_model(args.model_uri)
    with mlflow.start_run():
        mlflow.log_params({"model_uri": args.model_uri, "random_state": args.seed, "test_size": args.test_size})
        mlflow.log_input(dataset, context="evaluation")
        accuracy = accuracy_score(y_test, model.predict(X_test))
        mlflow.log_metric("eval_accuracy", accuracy)
    print(f"eval_accuracy={accuracy:.6f}")


if __name__ == "__main__":
    main()
