"""GPT Kata's own code, in two wings and a few shared modules. Learners never need
to edit anything here.

    gptkata/kata/   the learning harness: what `make test`, `progress`, `watch`, `show`,
                    `hint`, `reset`, `check` and `speed` run, and the instructor's
                    `grade`, `release` and `new-kata` (start at kata/__init__.py)
    gptkata/lab/    the lab that trains real models: `make train` and `sample`
                    (start at lab/__init__.py)

What both wings use stays here, small: `paths` (where things live), `data` (the
corpus), `outputs` (atomic writes), `cli` (the command line behind the Makefile) and
`install` (the interpreter check of `make install`, runnable by any Python).
The dependency runs one way: the lab may use the harness's kata selection to load the
reference solutions; the harness never imports the lab, and no module imports another
that imports it back (tests/tooling/test_wings.py). The benchmarks (`make bench`)
measure this package from outside it, in benchmarks/.
"""
