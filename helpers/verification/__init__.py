"""Stage 2, claims and verification: claim extraction, the ONNX cross-encoder runtime, the calibrated
verifier and the stage that checks every claim. `stage.claims_stage` is what `02_claims` calls."""
