"""`workbench batch`: many questions at once, one Dask task per question (see `cluster.py`).

`plan` validates the params files and decides what is current, `task` is what a worker runs (the same
`runner.run` as `workbench run`), `cluster` drives a Dask LocalCluster or an existing scheduler, `index` writes
`outputs/batch-<name>/index.html` and `summary.csv`, and `bench` times 1 worker against 2.
"""
