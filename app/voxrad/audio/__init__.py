"""Microphone capture: devices, push-to-talk and hands-free endpointing."""
