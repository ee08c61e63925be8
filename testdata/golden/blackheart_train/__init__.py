"""Stand-in for the trainer's package, so golden pickles reference the module
paths real artifacts use (blackheart_train.ensemble.*). Fixture code only."""
