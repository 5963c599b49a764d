"""The reference host: an executable copy of shared/HOST_CONTRACT.md (hook spec + minimal multi_broker)."""
