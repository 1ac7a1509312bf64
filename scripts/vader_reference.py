#!/usr/bin/env python3
"""Reference VADER scores for the conformance test (tests/vader_conformance.rs).

Scores every snippet of the shared sentiment ground-truth files with Python vaderSentiment 3.3.2
and writes one line per snippet, `file<TAB>id<TAB>compound`, to the output path.

Usage: scripts/vader_reference.py OUTPUT [FILE.tsv ...]
       scripts/vader_reference.py --texts INPUT.jsonl OUTPUT.jsonl

The second form scores arbitrary texts (one JSON string per line) and writes one JSON array
`[neg, neu, pos, compound]` per line; the conformance test uses it for generated edge cases.

The data directory is $NEWS_DATA_DIR (default: ../shared/data relative to the repository root);
the files are read from its `sentiment/` folder (all *.tsv there unless names are given).
Exit status 2 with a message on stderr when vaderSentiment or the data is missing.
"""
import os
import sys


def data_dir():
    env = os.environ.get("NEWS_DATA_DIR")
    if env:
        return env
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(repo_root, "..", "shared", "data")


def read_rows(path):
    """Rows (id, rating, text) of a ground-truth file, read exactly as the Rust side reads them:
    UTF-8, split on LF, a trailing CR dropped, empty lines skipped, split on the first two tabs."""
    with open(path, encoding="utf-8", newline="") as f:
        data = f.read()
    for line in data.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise ValueError(f"{path}: malformed line {line[:80]!r}")
        yield parts


def score_texts(analyzer, in_path, out_path):
    import json

    with open(in_path, encoding="utf-8") as f, open(out_path, "w", encoding="utf-8", newline="\n") as out:
        for line in f:
            scores = analyzer.polarity_scores(json.loads(line))
            out.write(json.dumps([scores["neg"], scores["neu"], scores["pos"], scores["compound"]]) + "\n")
    return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import vaderSentiment.vaderSentiment as vs
    except ImportError:
        print("python module vaderSentiment not found: pip install vaderSentiment==3.3.2", file=sys.stderr)
        return 2
    if sys.argv[1] == "--texts":
        if len(sys.argv) != 4:
            print(__doc__, file=sys.stderr)
            return 2
        return score_texts(vs.SentimentIntensityAnalyzer(), sys.argv[2], sys.argv[3])
    sentiment_dir = os.path.join(data_dir(), "sentiment")
    if not os.path.isdir(sentiment_dir):
        print(f"shared data not found at {os.path.abspath(sentiment_dir)}, set NEWS_DATA_DIR", file=sys.stderr)
        return 2
    names = sys.argv[2:] or sorted(n for n in os.listdir(sentiment_dir) if n.endswith(".tsv"))
    analyzer = vs.SentimentIntensityAnalyzer()
    count = 0
    with open(sys.argv[1], "w", encoding="utf-8", newline="\n") as out:
        for name in names:
            for row_id, _rating, text in read_rows(os.path.join(sentiment_dir, name)):
                compound = analyzer.polarity_scores(text)["compound"]
                out.write(f"{name}\t{row_id}\t{compound!r}\n")
                count += 1
    print(f"wrote {count} reference scores to {sys.argv[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
