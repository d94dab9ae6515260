"""Qt-free use cases: prompts, answer parsing, the voice command grammar, the pipeline."""
