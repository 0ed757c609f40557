"""An example project that tests its image models with pytest_xai (see README.md)."""
