"""Your katas. Each module here is one kata; replace every
`raise NotImplementedError(...)` with working code, then run `make test KATA=<name>`."""
