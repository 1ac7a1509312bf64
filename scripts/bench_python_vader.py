#!/usr/bin/env python3
"""Times Python vaderSentiment 3.3.2 on the benchmark corpus, the way our `vader` model is
used: polarity_scores over title + "\\n" + body of each article. Prints articles/s.

Usage: python3 scripts/bench_python_vader.py [--limit N]
Reads NEWS_DATA_DIR (default ../shared/data beside the checkout)."""
import argparse
import json
import os
import sys
import time

try:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
except ImportError:
    sys.exit("vaderSentiment is missing: pip install vaderSentiment==3.3.2")

here = os.path.dirname(os.path.abspath(__file__))
data = os.environ.get("NEWS_DATA_DIR", os.path.join(here, "..", "..", "shared", "data"))
path = os.path.join(data, "news", "news_articles_2017.jsonl")
if not os.path.exists(path):
    sys.exit(f"corpus not found at {path}: set NEWS_DATA_DIR to the shared/data folder")

ap = argparse.ArgumentParser()
ap.add_argument("--limit", type=int, default=1000, help="articles to score (Python is slow)")
args = ap.parse_args()

texts = []
with open(path, encoding="utf-8") as f:
    for line in f:
        a = json.loads(line)
        title, body = (a.get("title") or "").strip(), a.get("body") or ""
        texts.append(f"{title}\n{body}" if title else body)
        if len(texts) >= args.limit:
            break

analyzer = SentimentIntensityAnalyzer()
start = time.perf_counter()
for t in texts:
    analyzer.polarity_scores(t)
elapsed = time.perf_counter() - start
print(f"python vaderSentiment: {len(texts)} articles in {elapsed:.2f} s = {len(texts) / elapsed:.1f} articles/s")
