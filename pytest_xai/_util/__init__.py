"""Private helpers: atomic writes, JSON normalisation, validation of numbers, file names."""
