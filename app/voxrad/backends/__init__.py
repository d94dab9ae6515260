"""Speech-to-text, vision-language and text-to-speech engines behind small Protocols."""
