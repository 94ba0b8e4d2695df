"""The doctor: why MLflow shows nothing (URI, server, store, migrations, artifacts, drivers), with fixes."""
