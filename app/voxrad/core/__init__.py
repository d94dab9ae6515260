"""Qt-free, ML-free model of VoxRad: numpy, stdlib and pydantic only."""
