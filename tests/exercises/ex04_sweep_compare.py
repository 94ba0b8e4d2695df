"""Submissions for ex04-sweep-compare: correct work in another style, and one mistake per exercise."""

# Replacements applied to the solution's source: correct work written another way.
OTHER_STYLE = [
    # The client API: children are runs carrying the tag mlflow.parentRunId, with their own names,
    # an extra param and tag, and cross_validate in place of cross_val_score; plus a smoke-test run.
    ('''with mlflow.start_run(run_name="grid") as parent:
    for max_depth, min_samples_leaf in grid:
        with mlflow.start_run(run_name=f"tree-d{max_depth}-l{min_samples_leaf}", nested=True) as child:
            tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=seed)
            cv_accuracy = cross_val_score(tree, X_train, y_train, cv=folds).mean()
            mlflow.log_params({"max_depth": max_depth, "min_samples_leaf": min_samples_leaf, "random_state": seed})
            mlflow.log_metric("cv_accuracy", cv_accuracy)
        results.append({"run_id": child.info.run_id, "max_depth": max_depth,
                        "min_samples_leaf": min_samples_leaf, "cv_accuracy": cv_accuracy})
parent_id = parent.info.run_id''',
     '''from sklearn.model_selection import cross_validate

client = mlflow.MlflowClient()
with mlflow.start_run(run_name="smoke-test"):
    mlflow.set_tag("note", "a run that is not part of the sweep")
parent_id = client.create_run(experiment.experiment_id, run_name="grid", tags={"purpose": "sweep"}).info.run_id
client.log_param(parent_id, "grid", str(grid))
for number, (max_depth, min_samples_leaf) in enumerate(grid):
    run_id = client.create_run(experiment.experiment_id, run_name=f"config-{number}",
                               tags={"mlflow.parentRunId": parent_id, "family": "tree"}).info.run_id
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=seed)
    scores = cross_validate(tree, X_train, y_train, cv=folds, scoring=["accuracy", "f1"])
    for name, value in {"max_depth": max_depth, "min_samples_leaf": min_samples_leaf, "random_state": seed,
                        "criterion": "gini"}.items():
        client.log_param(run_id, name, value)
    client.log_metric(run_id, "cv_accuracy", scores["test_accuracy"].mean())
    client.log_metric(run_id, "cv_f1", scores["test_f1"].mean())
    client.set_terminated(run_id)
    results.append({"run_id": run_id, "max_depth": max_depth, "min_samples_leaf": min_samples_leaf,
                    "cv_accuracy": scores["test_accuracy"].mean()})
client.set_terminated(parent_id)'''),
    # The children read back from MLflow, their params cast to numbers, ranked with sorted().
    ('''ranked = results.sort_values(["cv_accuracy", "max_depth", "min_samples_leaf"], ascending=[False, True, False])
best = ranked.iloc[0]
client = mlflow.MlflowClient()
for run_id in results["run_id"]:
    client.set_tag(run_id, "best_in_sweep", "true" if run_id == best["run_id"] else "false")''',
     '''children = mlflow.search_runs(experiment_ids=[experiment.experiment_id],
                              filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
rows = [{"run_id": r["run_id"], "max_depth": int(r["params.max_depth"]),
         "min_samples_leaf": int(r["params.min_samples_leaf"]), "cv_accuracy": r["metrics.cv_accuracy"]}
        for _, r in children.iterrows()]
best = sorted(rows, key=lambda r: (-r["cv_accuracy"], r["max_depth"], -r["min_samples_leaf"]))[0]
with mlflow.start_run(run_id=best["run_id"]):
    mlflow.set_tags({"best_in_sweep": "true", "chosen_by": "cv_accuracy"})'''),
    ('''with mlflow.start_run(run_id=parent_id):
    mlflow.log_metric("test_accuracy", test_accuracy)''',
     '''mlflow.MlflowClient().log_metric(parent_id, "test_accuracy", test_accuracy)
mlflow.MlflowClient().set_tag(parent_id, "best_run_id", best["run_id"])'''),
]
# One mistake each, one per exercise: (name, replacements, the checks it must fail and no others).
MUTATIONS = [
    ('not-nested', [('''with mlflow.start_run(run_name="grid") as parent:
    for max_depth, min_samples_leaf in grid:''', '''with mlflow.start_run(run_name="grid") as parent:
    pass
for max_depth, min_samples_leaf in grid:''')],
     ['nested']),
    ('string-sort', [('ranked = results.sort_values(', 'ranked = results.astype({"max_depth": str}).sort_values(')],
     ['best-tag']),
]
