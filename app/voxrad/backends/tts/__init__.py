"""Text-to-speech: the Speaker protocol, a registry, pyttsx3 and interruptible playback."""
