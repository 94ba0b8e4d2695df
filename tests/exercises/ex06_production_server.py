"""Submissions for ex06-production-server: correct work in another style, and one mistake per exercise."""

# Replacements applied to the solution's source: correct work written another way.
OTHER_STYLE = [
    # The client API, NumPy arrays instead of DataFrames, a run without a model before the model's
    # run and another after it.
    ('''mlflow.set_tracking_uri(server_url)
mlflow.set_experiment(experiment_name)
model = LogisticRegression(max_iter=500, random_state=seed).fit(X_train, y_train)
with mlflow.start_run(run_name="through-the-team-server") as run:
    mlflow.log_param("random_state", seed)
    mlflow.log_metric("accuracy", accuracy_score(y_test, model.predict(X_test)))
    model_info = mlflow.sklearn.log_model(model, name="model", input_example=X_train.head(3),
                                          pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
run_id = run.info.run_id''',
     '''mlflow.set_tracking_uri(server_url)
client = mlflow.MlflowClient()
experiment_id = client.create_experiment(experiment_name, tags={"team": "course"})
mlflow.set_experiment(experiment_id=experiment_id)
with mlflow.start_run(run_name="majority-baseline"):
    mlflow.log_metric("accuracy", float((y_test == y_train.mode()[0]).mean()))
model = LogisticRegression(max_iter=500, random_state=seed).fit(X_train.to_numpy(), y_train.to_numpy())
run_id = client.create_run(experiment_id, run_name="numpy-style").info.run_id
client.log_param(run_id, "random_state", seed)
client.log_metric(run_id, "accuracy", float((model.predict(X_test.to_numpy()) == y_test.to_numpy()).mean()))
with mlflow.start_run(run_id=run_id):
    model_info = mlflow.sklearn.log_model(model, name="model", input_example=X_train.to_numpy()[:3])
with mlflow.start_run(run_name="a-note-afterwards"):
    mlflow.set_tag("note", "no model here")'''),
    # The key worked out from the model's artifact location, checked with head_object, and given
    # as a full s3:// URI.
    ('''key = next(k for k in s3.keys("team/") if k.endswith(f"/models/{model_info.model_id}/artifacts/MLmodel"))''',
     '''location = mlflow.get_logged_model(model_info.model_id).artifact_location
key = "team/" + location.removeprefix("mlflow-artifacts:/") + "/MLmodel"
s3.client().head_object(Bucket=s3.bucket, Key=key)'''),
    ('''mlflow.MlflowClient().set_tag(run_id, "bucket_key", key)''',
     '''mlflow.MlflowClient().set_tag(run_id, "bucket_key", f"s3://{s3.bucket}/{key}")'''),
]
# One mistake each: (name, replacements, the checks it must fail and no others).
MUTATIONS = [
    # the syllabus's habit: an s3:// artifact location, with the bucket's keys in every client
    ('client-writes-to-s3', [('''mlflow.set_tracking_uri(server_url)
mlflow.set_experiment(experiment_name)''', '''mlflow.set_tracking_uri(server_url)
os.environ.update(s3.env())
mlflow.create_experiment(experiment_name, artifact_location=f"s3://{s3.bucket}/team/direct")
mlflow.set_experiment(experiment_name)''')],
     ['team-experiment', 'team-model', 'team-truthful']),
    # MLflow 2's layout, guessed instead of looked up: the model inside the run's folder
    ('model-in-run-folder', [('''mlflow.MlflowClient().set_tag(run_id, "bucket_key", key)''',
                              '''mlflow.MlflowClient().set_tag(run_id, "bucket_key", f"team/{run.info.experiment_id}/{run_id}/artifacts/model/MLmodel")''')],
     ['bucket-key']),
]
