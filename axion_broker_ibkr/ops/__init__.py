"""The I/O-free operations of the core: every API call, the request loop's decisions and the order
path as generators over plain values (see docs/ARCHITECTURE.md)."""
