"""The shared vocabulary of plans and questions: no corpus state, no imports above models."""
