"""Training: FineWeb shards and loaders (train.data), the sharded trainer."""
