"""The stream processor: keeps every member's conversation row at its group's latest message.

records.py         decode DynamoDB Stream records (NEW_IMAGE view); only message INSERTs count
processor.py       `apply_records`: the core both runners share (coalesce, move, report failures)
moves.py           the row-moving algorithm: forward only, one row per member, index lag corrected
lambda_handler.py  AWS Lambda entrypoint `cruddur.streams.lambda_handler.handler`
shards.py          shard order (parents before children)
checkpoints.py     the local worker's durable checkpoints and dead-letter file (under data_dir)
worker.py          the local poller behind `cruddur stream-worker`
"""
