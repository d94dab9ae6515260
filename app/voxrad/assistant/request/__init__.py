"""The request side: the images a model sees and the prompt that goes with them."""
