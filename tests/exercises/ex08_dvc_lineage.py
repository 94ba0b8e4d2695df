"""Submissions for ex08-dvc-lineage: correct work in another style, and one mistake per exercise."""

# Replacements applied to the solution's source: correct work written another way.
OTHER_STYLE = [
    ('''    pointer = yaml.safe_load((workspace / "data" / "churn.csv.dvc").read_text())
    lineage = {"data_version": pointer["outs"][0]["md5"], "git_commit": sh("git", "rev-parse", "HEAD"),
               "lineage.repo": str(workspace)}
    metrics = train()
    dataset = mlflow.data.from_pandas(pd.read_csv(data_file), source=str(data_file), name="churn",
                                      digest=lineage["data_version"], targets="churn")
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_param("random_state", seed)
        mlflow.set_tags(lineage)
        mlflow.log_input(dataset, context="training")
        mlflow.log_metrics(metrics)
    return run.info.run_id''',
     '''    version = json.loads(sh("dvc", "ls", ".", "data/churn.csv", "--show-hash", "--json"))[0]["md5"]
    client = mlflow.MlflowClient()
    run = client.create_run(experiment.experiment_id, run_name=run_name, tags={
        "data_version": version, "git_commit": sh("git", "log", "-1", "--format=%H"),
        "lineage.repo": str(workspace), "note": "extra tags are fine"})
    client.log_param(run.info.run_id, "random_state", seed)
    for name, value in train().items():
        client.log_metric(run.info.run_id, name, value)
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_input(mlflow.data.from_pandas(pd.read_csv(data_file), source=str(data_file), name="churn",
                                                 digest=version, targets="churn"), context="training")
    return run.info.run_id'''),
    ('''sh("git", "add", "data/churn.csv.dvc")
sh("git", "commit", "-q", "-m", "Data version 2: 200 more customers")
second_run_id = log_training("v2")''',
     '''sh("git", "commit", "-q", "-m", "Data version 2", "--", "data/churn.csv.dvc")
with mlflow.start_run(run_name="smoke-test"):
    mlflow.log_param("note", "a run without lineage is not graded as a version")
second_run_id = log_training("v2")'''),
    ('''commit = mlflow.get_run(first_run_id).data.tags["git_commit"]
sh("git", "checkout", "-q", commit)
sh("dvc", "checkout", "-q")
again_run_id = log_training("v1-again")''',
     '''recorded = mlflow.search_runs(experiment_ids=[experiment.experiment_id], output_format="list",
                              filter_string="attributes.run_name = 'v1'")[0]
sh("git", "switch", "-q", "--detach", recorded.data.tags["git_commit"])
sh("dvc", "checkout", "-q", "data/churn.csv.dvc")
again_run_id = log_training("v1-again")
mlflow.MlflowClient().set_tag(again_run_id, "reproduces", recorded.info.run_id)'''),
]
# One mistake each, one per exercise: (name, replacements, the checks it must fail and no others).
MUTATIONS = [
    ('own-digest', [('''name="churn",
                                      digest=lineage["data_version"], targets="churn")''', 'name="churn", targets="churn")')],
     ['dataset']),
    ('logged-before-commit', [('''sh("git", "commit", "-q", "-m", "Data version 2: 200 more customers")
second_run_id = log_training("v2")''', '''second_run_id = log_training("v2")
sh("git", "commit", "-q", "-m", "Data version 2: 200 more customers")''')],
     ['commits']),
    ('no-dvc-checkout', [('''sh("git", "checkout", "-q", commit)
sh("dvc", "checkout", "-q")
''', '''sh("git", "checkout", "-q", commit)
''')],
     ['reproducible']),
]
