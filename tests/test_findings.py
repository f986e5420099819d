"""Reported quantities: numbers with a unit and a metric, read from real arXiv sentences."""

from __future__ import annotations

from helpers.verification.findings import quantities, summary

ASRD = ("Extensive experiments on math and coding benchmarks demonstrate that ASRD outperforms recent remasking "
        "baselines, achieving accuracy improvements of up to 6.4\\% while accelerating inference throughput by up to "
        "7.2$\\times$.")


def test_latex_numbers_metrics_directions_and_method():
    found = [(q.value, q.unit, q.metric, q.direction, q.bound, q.method) for q in quantities(ASRD, "p1", 3, "Q1")]
    assert found == [(6.4, "%", "accuracy", "increase", "up to", "ASRD"), (7.2, "×", "speed-up", "increase", "up to", "ASRD")]


def test_decreases_points_and_number_words():
    q = quantities("We find that 4-bit quantization reduces GSM8K accuracy by 3.2 points, while memory drops by 75%.")
    assert [(x.value, x.unit, x.metric, x.direction) for x in q] == [(3.2, "points", "accuracy", "decrease"),
                                                                        (75.0, "%", "memory", "decrease")]
    q = quantities("Our 13.4B parameter model outperforms a 33B model in code generation quality while being three times faster.")
    assert [(x.value, x.unit, x.metric) for x in q] == [(3.0, "×", "speed-up")]


def test_numbers_without_a_metric_are_left_out():
    assert quantities("In 2025, we collected 1,200 samples from 30 users over 12 months.") == []


def test_summary_groups_comparable_quantities_one_value_per_paper():
    found = (quantities("X achieves a 2.0× speedup.", "a") + quantities("Y achieves up to 3.5× speedup and 1.5× speedup.", "b")
             + quantities("Z is 5× faster.", "c") + quantities("Accuracy rises by 2%.", "c"))
    groups = {(g["metric"], g["unit"]): g for g in summary(found)}
    speed = groups[("speed-up", "×")]
    assert (speed["papers"], speed["min"], speed["median"], speed["max"]) == (3, 2.0, 3.5, 5.0)
    assert speed["papers_ids"] == ["a", "b", "c"]
    assert groups[("accuracy", "%")]["papers"] == 1
