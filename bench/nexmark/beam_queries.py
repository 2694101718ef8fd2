"""Benchmark child: one Nexmark query on Beam Python's DirectRunner.

Run with the interpreter of the venv the bench manages (apache-beam from PyPI):

    python bench/nexmark/beam_queries.py --query 5 --input events.jsonl --output out/py-q5

Reads the events file as Beam Python's Nexmark launcher does in batch (ReadFromText, Beam's
ParseJsonEventFn, each event timestamped with its dateTime, Beam's Nexmark coders registered),
applies the query Beam Python ships in apache_beam.testing.benchmarks.nexmark.queries with the
launcher's settings, and writes the results with WriteToText as the canonical lines
bench/nexmark/queries.ts documents, so the bench can compare them with Sluice's. Query 1 is the
one exception: Beam Python's query1 multiplies the price by 0.89 as a float, where Beam Java's
Query1 (the suite's definition, and Sluice's) computes (price * 89) / 100 in longs; here it is
that, in Beam Python (JustBids, then a Map).

Prints one JSON line: the pipeline's time (construction to the end of the run, imports excluded,
as the Sluice child times its own) and peak RSS (this process; children, if Beam started any).
"""

import argparse
import json
import resource
import time


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--query', required=True, choices=['0', '1', '2', '5', '7', '8', '11'])
  parser.add_argument('--input', required=True)
  parser.add_argument('--output', required=True)
  args = parser.parse_args()

  import apache_beam as beam
  from apache_beam.options.pipeline_options import PipelineOptions
  from apache_beam.options.pipeline_options import TypeOptions
  from apache_beam.testing.benchmarks.nexmark import nexmark_util
  from apache_beam.testing.benchmarks.nexmark.models import nexmark_model
  from apache_beam.testing.benchmarks.nexmark.queries import nexmark_query_util
  from apache_beam.testing.benchmarks.nexmark.queries import query0
  from apache_beam.testing.benchmarks.nexmark.queries import query2
  from apache_beam.testing.benchmarks.nexmark.queries import query5
  from apache_beam.testing.benchmarks.nexmark.queries import query7
  from apache_beam.testing.benchmarks.nexmark.queries import query8
  from apache_beam.testing.benchmarks.nexmark.queries import query11
  from apache_beam.testing.benchmarks.nexmark.queries.nexmark_query_util import ResultNames
  from apache_beam.transforms import window

  # The settings Beam Python's Nexmark launcher passes its queries (Beam Java's defaults).
  metadata = {
      'auction_skip': 123,
      'window_size_sec': 10,
      'window_period_sec': 5,
      'fanout': 5,
      'num_max_workers': 5,
      'max_log_events': 100000,
      'occasional_delay_sec': 3,
      'max_auction_waiting_time': 600,
  }

  def millis(ts):
    return ts.micros // 1000

  def event_json(e):
    # Beam Java's field names and order, as in the events file.
    if isinstance(e, nexmark_model.Person):
      d = {
          'id': e.id, 'name': e.name, 'emailAddress': e.email_address,
          'creditCard': e.credit_card, 'city': e.city, 'state': e.state,
          'dateTime': millis(e.date_time), 'extra': e.extra
      }
    elif isinstance(e, nexmark_model.Auction):
      d = {
          'id': e.id, 'itemName': e.item_name, 'description': e.description,
          'initialBid': e.initial_bid, 'reserve': e.reserve,
          'dateTime': millis(e.date_time), 'expires': millis(e.expires),
          'seller': e.seller, 'category': e.category, 'extra': e.extra
      }
    else:
      d = {
          'auction': e.auction, 'bidder': e.bidder, 'price': e.price,
          'dateTime': millis(e.date_time), 'extra': e.extra
      }
    return json.dumps(d, separators=(',', ':'))

  def bounds(w):
    return '%d\t%d' % (millis(w.start), millis(w.end))

  def query1(events, metadata=None, pipeline_options=None):
    return (
        events
        | nexmark_query_util.JustBids()
        | 'ConvertToEuro' >> beam.Map(
            lambda bid: nexmark_model.Bid(
                bid.auction, bid.bidder, (bid.price * 89) // 100, bid.date_time, bid.extra)))

  queries = {
      '0': (query0.load, lambda r, w: event_json(r)),
      '1': (query1, lambda r, w: event_json(r)),
      '2': (query2.load, lambda r, w: '%d\t%d' % (r[ResultNames.AUCTION_ID], r[ResultNames.PRICE])),
      '5': (query5.load, lambda r, w: '%s\t%d\t%d' % (bounds(w), r[ResultNames.AUCTION_ID], r[ResultNames.NUM])),
      '7': (query7.load, lambda r, w: '%s\t%s' % (bounds(w), event_json(r))),
      '8': (query8.load, lambda r, w: '%s\t%d\t%s\t%d' % (bounds(w), r[ResultNames.ID], r[ResultNames.NAME], r[ResultNames.RESERVE])),
      '11': (query11.load, lambda r, w: '%s\t%d\t%d' % (bounds(w), r[ResultNames.BIDDER_ID], r[ResultNames.BID_COUNT])),
  }
  load, fmt = queries[args.query]

  class FormatFn(beam.DoFn):
    def process(self, result, w=beam.DoFn.WindowParam):
      yield fmt(result, w)

  started = time.perf_counter()
  options = PipelineOptions(['--runner=DirectRunner'])
  options.view_as(TypeOptions).allow_unsafe_triggers = True
  nexmark_util.setup_coder()
  with beam.Pipeline(options=options) as p:
    events = (
        p
        | 'ReadEvents' >> beam.io.ReadFromText(args.input)
        | 'ParseEvents' >> beam.ParDo(nexmark_util.ParseJsonEventFn())
        | 'Timestamp' >> beam.Map(lambda e: window.TimestampedValue(e, e.date_time)))
    results = load(events, metadata, options)
    _ = (
        results
        | 'Format' >> beam.ParDo(FormatFn())
        | 'WriteResults' >> beam.io.WriteToText(args.output))
  seconds = time.perf_counter() - started

  own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
  print(json.dumps({'seconds': seconds, 'peakRssMb': own, 'childrenPeakRssMb': children}))


if __name__ == '__main__':
  main()
