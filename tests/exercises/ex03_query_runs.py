"""Submissions for ex03-query-runs: correct work in another style, and one mistake per exercise."""

# Replacements applied to the solution's source: correct work written another way.
OTHER_STYLE = [
    ('''knn = mlflow.search_runs(experiment_names=[experiment_name], filter_string="params.model_type = 'knn'")
top = knn[knn["metrics.accuracy"] == knn["metrics.accuracy"].max()]
best_knn = top.loc[top["params.n_neighbors"].astype(int).idxmax(), "run_id"]''',
     '''client = mlflow.MlflowClient()
runs = client.search_runs([experiment.experiment_id], "params.model_type = 'knn'", order_by=["metrics.accuracy DESC"])
best_knn = max(runs, key=lambda r: (r.data.metrics["accuracy"], int(r.data.params["n_neighbors"]))).info.run_id
client.set_tag(best_knn, "note", "extra tags are fine")'''),
    ('''for run_id in below["run_id"]:
    mlflow.MlflowClient().set_tag(run_id, "review", "needed")''',
     '''for run_id in below["run_id"]:
    with mlflow.start_run(run_id=run_id):
        mlflow.set_tags({"review": "needed", "reviewer": "me"})'''),
]
# One mistake each, one per exercise: (name, replacements, the checks it must fail and no others).
MUTATIONS = [
    ('string-sort', [('best_knn = top.loc[top["params.n_neighbors"].astype(int).idxmax(), "run_id"]', 'best_knn = top.sort_values("params.n_neighbors", ascending=False)["run_id"].iloc[0]')],
     ['best-knn']),
    ('loose-bar', [('filter_string="metrics.f1 < 0.935"', 'filter_string="metrics.f1 <= 0.94"')],
     ['review-only']),
]
