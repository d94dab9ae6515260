"""The voice command grammar: an utterance becomes a viewer command or a question."""
