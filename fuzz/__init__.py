"""Coverage-guided fuzzing (atheris) of what strangers send the bot. `make fuzz` runs every
harness for a while; `python -m fuzz --seconds 60 [NAME...]` does the same by hand."""
