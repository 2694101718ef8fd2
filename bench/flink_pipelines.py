"""The pipelines `npm run bench -- flink` runs with Beam Python: the same as bench/flink-pipelines.ts.

  python bench/flink_pipelines.py --pipeline=wordcount|maps|gbk --input=FILE --output=PREFIX <Beam pipeline flags>

wordcount: words are runs of letters ([^\\W\\d_]+, which is [^\\p{L}]+'s complement on this corpus).
"""
import argparse
import re

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

LETTERS = re.compile(r"[^\W\d_]+")


def summarize(kv):
    key, values = kv
    n = 0
    total = 0
    for v in values:
        n += 1
        total += v
    return "%s: %d %d" % (key, n, total)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipeline", required=True, choices=["wordcount", "maps", "gbk"])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args, beam_args = parser.parse_known_args()
    with beam.Pipeline(options=PipelineOptions(beam_args)) as p:
        lines = p | "Read" >> beam.io.ReadFromText(args.input)
        if args.pipeline == "wordcount":
            (lines
             | "ExtractWords" >> beam.FlatMap(LETTERS.findall)
             | "CountWords" >> beam.combiners.Count.PerElement()
             | "Format" >> beam.MapTuple(lambda w, n: "%s: %d" % (w, n))
             | "Write" >> beam.io.WriteToText(args.output))
        elif args.pipeline == "maps":
            (lines
             | "Trim" >> beam.Map(lambda l: l.strip())
             | "Upper" >> beam.Map(lambda l: l.upper())
             | "Length" >> beam.Map(len)
             | "Even" >> beam.Filter(lambda n: n % 2 == 0)
             | "Scale" >> beam.Map(lambda n: n * 3 + 1)
             | "Sum" >> beam.CombineGlobally(sum)
             | "Format" >> beam.Map(lambda n: "sum: %d" % n)
             | "Write" >> beam.io.WriteToText(args.output))
        else:
            (lines
             | "Key" >> beam.Map(lambda l: (l[:2], len(l)))
             | "Group" >> beam.GroupByKey()
             | "Summarize" >> beam.Map(summarize)
             | "Write" >> beam.io.WriteToText(args.output))


if __name__ == "__main__":
    main()
