"""GPT Kata's harness: the kata manifest, implementation selection, the corpus,
stub generation and the test reporting. Learners never need to edit anything here."""
