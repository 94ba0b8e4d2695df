"""Submissions for ex05-plots-artifacts: correct work in another style, and one mistake per exercise."""

# Replacements applied to the solution's source: correct work written another way.
OTHER_STYLE = [
    ('''    mlflow.log_figure(fig, "importances.png")
    plt.close(fig)
    mlflow.log_dict(settings, "settings.json")''',
     '''    client = mlflow.MlflowClient()
    client.log_figure(run_id, fig, "importances.png")
    plt.close(fig)
    client.log_dict(run_id, {**settings, "note": "more keys are fine"}, "settings.json")
    mlflow.log_dict({"extra": True}, "extra/more.json")'''),
    ('''    with tempfile.TemporaryDirectory() as folder:
        summary = Path(folder) / "summary.csv"
        predictions["predicted"].value_counts().sort_index().rename("count").to_csv(summary)
        mlflow.log_artifact(str(summary), artifact_path="reports")''',
     '''    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "reports").mkdir()
        predictions.groupby("predicted").size().to_csv(Path(folder) / "reports" / "summary.csv")
        mlflow.log_artifacts(folder)'''),
    ('        mlflow.log_metric("test_log_loss", log_loss(y_test, grower.predict_proba(X_test)), step=trees)',
     '''        mlflow.log_metrics({"test_log_loss": log_loss(y_test, grower.predict_proba(X_test)), "trees": trees},
                           step=trees)'''),
]
# One mistake each: (name, replacements, the checks it must fail and no others).
MUTATIONS = [
    ('dict-as-text', [('mlflow.log_dict(settings, "settings.json")', 'mlflow.log_text(str(settings), "settings.json")')],
     ['plot-and-settings']),
    ('table-as-dict', [('mlflow.log_table(predictions, artifact_file="predictions.json")', 'mlflow.log_dict(predictions.to_dict(), "predictions.json")')],
     ['table-and-file']),
    ('no-step', [('grower.predict_proba(X_test)), step=trees)', 'grower.predict_proba(X_test)))')],
     ['curve']),
]
