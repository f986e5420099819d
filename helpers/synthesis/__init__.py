"""Stages 3 and 4, synthesis: the graded answer, the independent reviewers and their scoring stage, the
report and the reference lists. `scoring.scoring_stage` and `report.report_stage` are what `03_scoring` and
`04_report` call."""
