"""Submissions for ex02-first-experiment: correct work in another style, and one mistake per exercise."""

# Replacements applied to the solution's source: correct work written another way.
OTHER_STYLE = [
    # Client API instead of fluent, numpy arrays instead of DataFrames, an exploratory run first,
    # and more params and tags than asked for.
    ('''settings = {"n_estimators": 100, "max_depth": 5, "random_state": seed}
clf = RandomForestClassifier(**settings).fit(X_train, y_train)
y_pred = clf.predict(X_test)
with mlflow.start_run(run_name="rf-by-hand") as run:
    mlflow.log_params(settings)
    mlflow.log_metrics({
        "accuracy": accuracy_score(y_test, y_pred),
        "precision": precision_score(y_test, y_pred, average="macro"),
        "recall": recall_score(y_test, y_pred, average="macro"),
    })
run_id = run.info.run_id''',
     '''import time

from mlflow.entities import Metric, Param

client = mlflow.MlflowClient()
with mlflow.start_run(run_name="exploring"):
    mlflow.log_param("max_depth", 2)
clf = RandomForestClassifier(n_estimators=30, max_depth=None, criterion="entropy", random_state=seed)
clf.fit(X_train.to_numpy(), y_train.to_numpy())
y_pred = clf.predict(X_test.to_numpy())
run_id = client.create_run(experiment.experiment_id, run_name="forest-30", tags={"owner": "me"}).info.run_id
now = int(time.time() * 1000)
client.log_batch(run_id, params=[Param(k, str(v)) for k, v in clf.get_params().items()], metrics=[
    Metric("accuracy", float((y_pred == y_test.to_numpy()).mean()), now, 0),
    Metric("precision", precision_score(y_test.to_numpy(), y_pred, average="macro"), now, 0),
    Metric("recall", recall_score(y_test.to_numpy(), y_pred, average="macro"), now, 0),
    Metric("f1_macro", 0.5, now, 0),
])
client.set_terminated(run_id)'''),
    ('''with mlflow.start_run(run_id=run_id):
    model_info = mlflow.sklearn.log_model(
        clf,
        name="model",
        input_example=X_train.head(5),
        skops_trusted_types=["sklearn.tree._tree.Tree"],
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )''',
     '''from mlflow.models import infer_signature

mlflow.start_run(run_id=run_id)
mlflow.set_tag("stage", "model")
model_info = mlflow.sklearn.log_model(
    clf, name="model", signature=infer_signature(X_train.to_numpy(), clf.predict(X_train.to_numpy())),
    skops_trusted_types=["sklearn.tree._tree.Tree"], pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
)
mlflow.end_run()'''),
    ('''mlflow.sklearn.autolog(silent=True)
with mlflow.start_run(run_name="rf-autolog") as auto_run:
    auto_clf = RandomForestClassifier(n_estimators=100, max_depth=5, random_state=seed).fit(X_train, y_train)
    mlflow.log_metric("test_accuracy", accuracy_score(y_test, auto_clf.predict(X_test)))
mlflow.sklearn.autolog(disable=True)
auto_run_id = auto_run.info.run_id''',
     '''mlflow.sklearn.autolog(log_input_examples=True, silent=True)
auto_run = mlflow.start_run(tags={"kind": "autolog"})
auto_clf = RandomForestClassifier(n_estimators=20, random_state=seed)
auto_clf.fit(X_train, y_train)
mlflow.log_metrics({"test_accuracy": float((auto_clf.predict(X_test) == y_test).mean()), "test_rows": len(y_test)})
mlflow.end_run()
mlflow.sklearn.autolog(disable=True)
auto_run_id = auto_run.info.run_id'''),
]
# One mistake each, one per exercise: (name, replacements, the checks it must fail and no others).
MUTATIONS = [
    ('seed-not-logged', [('''settings = {"n_estimators": 100, "max_depth": 5, "random_state": seed}
clf = RandomForestClassifier(**settings)''', '''settings = {"n_estimators": 100, "max_depth": 5}
clf = RandomForestClassifier(**settings, random_state=seed)''')],
     ['params']),
    ('no-input-example', [('''        input_example=X_train.head(5),
''', '')],
     ['signature']),
    ('autolog-scored-on-training-rows', [('accuracy_score(y_test, auto_clf.predict(X_test))', 'accuracy_score(y_train, auto_clf.predict(X_train))')],
     ['autolog-test']),
]
