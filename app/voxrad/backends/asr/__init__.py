"""Speech-to-text: the Transcriber protocol, a registry, and the faster-whisper backend."""
