"""`make bench` (python -m generator.bench) runs and prints its table: a tiny run of every measurement."""
from generator.bench.__main__ import main


def test_bench_prints_every_measurement_with_its_ratio(capsys):
    main(["--images", "32", "--batch", "16", "--samples", "2", "--width", "8", "--matmul", "64"])
    out = capsys.readouterr().out
    rows = {line.split("  ")[0]: line for line in out.splitlines()}
    assert "training, train.fit (cpu, " in out
    assert "x speed-up" in rows["training, plain fp32 loop"]
    assert "x speed-up of batching" in rows["CFG step, 2 samples, two separate calls"]
    assert "of fp32 matmul" in rows["UNet D=8 training, achieved (fwd+bwd FLOPs x images/s)"]
    assert "fp32 matmul 64^3 (machine rate)" in rows
