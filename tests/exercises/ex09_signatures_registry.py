"""Submissions for ex09-signatures-registry: correct work in another style, and one mistake per exercise."""

# Replacements applied to the solution's source: correct work written another way.
OTHER_STYLE = [
    ('''versions = {run_id: mlflow.register_model(uri, registered_model_name) for run_id, (_, uri) in candidates.items()}
best_run_id = max(candidates, key=lambda run_id: candidates[run_id][0])
champion_version = versions[best_run_id]''',
     '''for run_id in candidates:
    mlflow.register_model(f"runs:/{run_id}/model", registered_model_name)
versions = {v.run_id: v for v in client.search_model_versions(f"name = '{registered_model_name}'")}
ranked = sorted(candidates, key=lambda run_id: candidates[run_id][0], reverse=True)
champion_version = versions[ranked[0]]
client.set_registered_model_tag(registered_model_name, "team", "course")'''),
    ('''champion = mlflow.pyfunc.load_model(f"models:/{registered_model_name}@champion")
test_accuracy = accuracy_score(y_test, champion.predict(X_test))
with mlflow.start_run(run_name="champion-test", tags={"purpose": "champion-test"}):
    mlflow.log_metric("test_accuracy", test_accuracy)''',
     '''champion = mlflow.sklearn.load_model(f"models:/{registered_model_name}@champion")
test_accuracy = (champion.predict(X_test) == y_test.to_numpy()).mean()
run = client.create_run(experiment.experiment_id, tags={"purpose": "champion-test"})
client.log_metric(run.info.run_id, "test_accuracy", test_accuracy)
client.set_terminated(run.info.run_id)'''),
]
# One mistake each: (name, replacements, the checks it must fail and no others).
MUTATIONS = [
    ('first-is-champion', [('champion_version = versions[best_run_id]', 'champion_version = next(iter(versions.values()))')],
     ['champion']),
    ('challenger-is-champion', [('versions[other_run_id].version)', 'versions[best_run_id].version)')],
     ['challenger']),
    ('scored-on-validation', [('test_accuracy = accuracy_score(y_test, champion.predict(X_test))', 'test_accuracy = accuracy_score(y_val, champion.predict(X_val))')],
     ['champion-test']),
]
