"""The reference solutions: the same modules, signatures and docstrings as
exercises/, with the bodies filled in. Select them with `make test IMPL=solutions`."""
