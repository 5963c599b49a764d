"""The drivers: they carry out what the operations yield (HTTP, pacing, sleeping, threads, the event
loop). ``client_sync``/``gateway_sync`` are generated from their async twins by scripts/unasync.py."""
