"""The checks: measures of explanations, the assertion helpers, and interventions on the model."""
