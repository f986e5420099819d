"""A person's review: the append-only decisions file, how decisions are applied on every run, and the
JupyterLab panels that record them."""
