"""Submissions for ex01-tracking-server: correct work in another style, and one mistake per exercise."""

# Replacements applied to the solution's source: correct work written another way.
OTHER_STYLE = [
    ('''wait_for_health(server_url)
mlflow.set_tracking_uri(server_url)
experiment = mlflow.set_experiment(experiment_name)''',
     '''wait_for_health(server_url)
mlflow.set_tracking_uri(server_url)
client = mlflow.MlflowClient()
client.create_experiment(experiment_name, tags={"owner": "me"})'''),
    ('''with mlflow.start_run(run_name="through-the-proxy") as run:
    mlflow.log_param("random_state", seed)
    mlflow.log_text("logged through the server's artifact proxy\\n", "hello.txt")
run_id = run.info.run_id''',
     '''run = client.create_run(client.get_experiment_by_name(experiment_name).experiment_id)
run_id = run.info.run_id
client.log_param(run_id, "random_state", seed)
client.log_text(run_id, "hello from the client API\\n", "hello.txt")
client.log_text(run_id, "an extra file\\n", "notes/extra.txt")
client.set_terminated(run_id)'''),
]
# One mistake each: (name, replacements, the checks it must fail and no others).
MUTATIONS = [
    # the syllabus's habit: an artifact location clients write to themselves, not the proxy
    ('own-artifact-location', [('experiment = mlflow.set_experiment(experiment_name)',
                                'mlflow.create_experiment(experiment_name, artifact_location=(artifacts_dir / "direct").as_uri())\n'
                                'experiment = mlflow.set_experiment(experiment_name)')],
     ['proxied-experiment']),
    ('wrong-file-name', [('"logged through the server\'s artifact proxy\\n", "hello.txt")', '"logged through the server\'s artifact proxy\\n", "hello.md")')],
     ['proxied-file']),
]
