"""Submissions for ex07-mlflow-projects: correct work in another style, and one mistake per exercise."""

# Replacements applied to the solution's source: correct work written another way.
OTHER_STYLE = [
    # Exercise 1: the entry point added with yaml to the file as it is, and run from Python, not the CLI.
    ('''(project / "MLproject").write_text("""name: forest-classifier

python_env: python_env.yaml

entry_points:
  main:
    parameters:
      n_estimators: {type: int, default: 100}
      max_depth: {type: int, default: 5}
      seed: {type: int, default: 42}
      test_size: {type: float, default: 0.25}
    command: >-
      python train.py --n-estimators {n_estimators} --max-depth {max_depth}
      --seed {seed} --test-size {test_size}
  shallow:
    parameters:
      max_depth: {type: int, default: 2}
      n_estimators: {type: int, default: 100}
      seed: {type: int, default: 42}
    command: "python train.py --max-depth {max_depth} --n-estimators {n_estimators} --seed {seed}"
""")
done = subprocess.run([sys.executable, "-m", "mlflow", "run", str(project), "-e", "shallow", "--env-manager", "local",
                       "-P", f"seed={seed}"], env=project_env, capture_output=True, text=True, timeout=600)
shallow_id = run_id_of(done)''',
     '''import mlflow.projects
import yaml

spec = yaml.safe_load((project / "MLproject").read_text())
spec["entry_points"]["shallow"] = {
    "parameters": {"max_depth": {"type": "int", "default": 2}, "n_estimators": {"type": "int", "default": 60},
                   "seed": {"type": "int", "default": 42}, "test_size": {"type": "float", "default": 0.3}},
    "command": "python train.py --max-depth {max_depth} --n-estimators {n_estimators} --seed {seed} --test-size {test_size}",
}
(project / "MLproject").write_text(yaml.safe_dump(spec, sort_keys=False))
submitted = mlflow.projects.run(str(project), entry_point="shallow", parameters={"seed": seed}, env_manager="local",
                                experiment_name=experiment_name, run_name="shallow-forest")
shallow_id = submitted.run_id'''),
    # Exercise 2: a loop, the experiment named on the command line, run names, and one more -P value.
    ('''command = [sys.executable, "-m", "mlflow", "run", str(project), "-e", "main", "--env-manager", "local",
           "-P", "n_estimators=50", "-P", "max_depth=4"]
first_id = run_id_of(subprocess.run([*command, "-P", f"seed={seed}"], env=project_env, capture_output=True,
                                    text=True, timeout=600))
second_id = run_id_of(subprocess.run([*command, "-P", f"seed={seed}"], env=project_env, capture_output=True,
                                     text=True, timeout=600))''',
     '''ids = []
for attempt in ("a", "b"):
    done = subprocess.run(["mlflow", "run", str(project), "--env-manager=local", "--experiment-name", experiment_name,
                           "--run-name", f"repeat-{attempt}", "-P", f"seed={seed}", "-P", "max_depth=4",
                           "-P", "n_estimators=50", "-P", "test_size=0.2"],
                          env=project_env, capture_output=True, text=True, timeout=600)
    ids.append(run_id_of(done))
first_id, second_id = ids'''),
]
# One mistake each: (name, replacements, the checks it must fail and no others).
MUTATIONS = [
    ('misnamed-entry-point', [('''  shallow:
    parameters:''', '''  shallow_forest:
    parameters:'''), ('"-e", "shallow"', '"-e", "shallow_forest"')],
     ['shallow-run']),
    ('seed-changed', [('second_id = run_id_of(subprocess.run([*command, "-P", f"seed={seed}"]',
                       'second_id = run_id_of(subprocess.run([*command, "-P", f"seed={seed + 1}"]')],
     ['reproducible']),
]
