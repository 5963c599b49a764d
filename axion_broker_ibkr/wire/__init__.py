"""The wire layer: the only place that spells IBKR's JSON names (responses parsed, order payloads
written and read back)."""
