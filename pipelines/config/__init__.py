"""prodlike.yaml: the validated model, `${ENV}` secrets, the generated reference."""
