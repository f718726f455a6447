"""Models: option handling, saving/loading and the SAEHD, SAEHDBW and Quick96 models."""
