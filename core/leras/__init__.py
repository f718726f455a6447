"""A small TensorFlow layer library on raw tf ops: device probing, layers, initializers, optimizers, archis."""
