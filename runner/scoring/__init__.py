"""One submission from workspace to verdict: the pipeline, the warm predictor, verdicts, intervals, anchors, batch runs."""
