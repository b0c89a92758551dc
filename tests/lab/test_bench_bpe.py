"""The BPE rows of the bench's report, on made-up figures (no timing)."""

from benchmarks import bench_bpe, bench_report
from tests.lab.test_bench import SETTINGS, fake_results

CASE = {
    "vocab_size": 1024,
    "merges": 768,
    "characters": 1_115_394,
    "bytes": 1_115_394,
    "tokens": 459_792,
    "round_trip": True,
    "train_seconds": 0.8,
    "encode_seconds": 6.0,
    "naive_seconds_per_merge": 0.5,
}


def test_the_report_has_the_bpe_figures_the_issue_asks_for():
    report = bench_report.summarise({**fake_results(), "bpe:reference": CASE}, SETTINGS)
    assert report["bpe_train_seconds"] == 0.8
    assert report["bpe_encode_seconds"] == 6.0
    assert report["bpe_naive_train_seconds_estimate"] == 384.0


def test_the_bpe_rows_name_the_verdicts_and_the_naive_estimate():
    text = "\n".join(
        bench_report.report_lines(
            bench_report.summarise({**fake_results(), "bpe:reference": CASE}, SETTINGS)
        )
    )
    assert (
        "bpe_train_seconds  = 0.80 s   goal <= 5 s: met   (naive: about 384 s, 480x longer" in text
    )
    assert "bpe_encode_seconds = 6.00 s   goal <= 5 s: missed (6.0 s)" in text
    assert "2.43 characters per token" in text


def test_without_the_corpus_the_bpe_case_says_so_and_the_rest_reports():
    skipped = {"skipped": "the corpus is missing: run `make data`"}
    report = bench_report.summarise({**fake_results(), "bpe:reference": skipped}, SETTINGS)
    assert "bpe_train_seconds" not in report
    text = "\n".join(bench_report.report_lines(report))
    assert "BPE (kata 12): skipped, the corpus is missing: run `make data`" in text
    assert bench_bpe.summary(None) == {} and bench_bpe.report_lines(None, {}) == []
