"""train.py's .NET Random and batches, printed for PyTorchTrainTests to compare with Batches.ForStep / Batches.Sample.

usage: train_parity.py EXPORT_DIR CASES_JSON DRAWS_OUT BATCHES_OUT
"""
import json
import os
import sys

sys.path.insert(0, sys.argv[1])
import train  # noqa: E402


def main():
    with open(sys.argv[2]) as f:
        c = json.load(f)
    lines = []
    for seed in c["seeds"]:
        for step in c["steps"]:
            r = train.for_step(seed, step)
            line = []
            for _ in range(3):
                line += [r.next_int64(0, n) for n in c["ranges"]]
                line += [r.next(n) for n in c["maxima"]]
                line.append(r.next_int64(-5, 5))
            lines.append("%d %d:%s" % (seed, step, " ".join(map(str, line))))
    for seed in c["randoms"]:
        r = train.DotNetRandom(seed)
        values = [r.next() for _ in range(60)] + [r.next_int64(0, 1000003) for _ in range(10)]
        lines.append("random %d:%s" % (seed, " ".join(map(str, values))))
    with open(sys.argv[3], "w") as f:
        f.write("\n".join(lines) + "\n")
    stream = train.TokenFile(os.path.join(c["cache"], "train.lnstok"))
    out = []
    for b in c["batches"]:
        r = train.for_step(b["seed"], b["step"])
        for _ in range(2):
            x, y = train.sample(stream, b["packing"], b["batch"], b["seq"], c["eot"], r)
            out.append(" ".join(map(str, x.reshape(-1).tolist())) + "|" + " ".join(map(str, y.reshape(-1).tolist())))
    with open(sys.argv[4], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
