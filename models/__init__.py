"""Models: the trainable models by name (`models.registry.MODELS`: SAEHD, SAEHDBW, Quick96, AMP, AMPBW, XSeg and the
Colorizer), what every model shares (`base`: options, saving and loading, backups, previews), what the face-swap
autoencoders share (`autoencoder`: samples, previews, merging), and each model's options, engine and files."""
