/**
 * Nexmark queries 0, 1, 2, 5, 7, 8 and 11 as Sluice pipelines, with Beam's definitions (Beam
 * Java's NexmarkConfiguration defaults: auctionSkip 123, windowSizeSec 10, windowPeriodSec 5,
 * maxLogEvents 100,000, occasionalDelaySec 3), batch. Each query reads the events collection and
 * yields its results as canonical lines, the same lines bench/nexmark/beam_queries.py writes from
 * Beam Python, so the two can be compared as multisets:
 *
 *   q0   the event's JSON line (after a round trip through a coder)
 *   q1   the bid's JSON line, price in euros
 *   q2   auction TAB price
 *   q5   window start TAB window end TAB auction TAB bid count
 *   q7   window start TAB window end TAB the bid's JSON line
 *   q8   window start TAB window end TAB person id TAB person name TAB auction reserve
 *   q11  session start TAB session end TAB bidder TAB bid count
 *
 * (window bounds in milliseconds since the epoch).
 */
import {
  AfterCount,
  AfterWatermark,
  AsSingleton,
  CoGroupByKey,
  CombineGlobally,
  type CombineFn,
  Count,
  decodeFromBytes,
  Duration,
  encodeToBytes,
  Filter,
  FixedWindows,
  FlatMap,
  IntervalWindow,
  Map,
  Max,
  type BoundedWindow,
  type PCollection,
  PCollectionRecord,
  ParDo,
  Sessions,
  type SideInput,
  SlidingWindows,
  WindowInto,
} from "sluice";
import { type Auction, type Bid, EventCoder, eventToJson, type NexmarkEvent, type Person } from "./model.js";

/** Beam's NexmarkConfiguration defaults the queries read. */
export const QUERY_CONFIG = Object.freeze({
  auctionSkip: 123,
  windowSizeSec: 10,
  windowPeriodSec: 5,
  maxLogEvents: 100_000,
  occasionalDelaySec: 3,
});

export const QUERIES = ["0", "1", "2", "5", "7", "8", "11"] as const;
export type QueryName = (typeof QUERIES)[number];

const justBids = (events: PCollection<NexmarkEvent>): PCollection<Bid> =>
  events.apply(
    "JustBids",
    ParDo<NexmarkEvent, Bid>({
      process(e, ctx) {
        if (e.kind === "bid") ctx.output(e);
      },
    }),
  );

function bounds(window: BoundedWindow): string {
  if (!(window instanceof IntervalWindow)) throw new Error(`expected an interval window, got ${String(window)}`);
  return `${window.start}\t${window.end}`;
}

/** Query 0, pass-through: every event through a serialization round trip. */
function query0(events: PCollection<NexmarkEvent>): PCollection<string> {
  return events
    .apply(
      "Query0.Serialize",
      Map((e: NexmarkEvent) => decodeFromBytes(EventCoder, encodeToBytes(EventCoder, e))),
    )
    .apply("Format", Map(eventToJson));
}

/** Query 1, currency conversion: each bid's price from dollars to euros, as Beam Java's (price * 89) / 100 in longs. */
function query1(events: PCollection<NexmarkEvent>): PCollection<string> {
  return justBids(events)
    .apply("Query1.ToEuros", Map((b: Bid): Bid => ({ ...b, price: Math.trunc((b.price * 89) / 100) })))
    .apply("Format", Map(eventToJson));
}

/** Query 2, selection: bids of every auctionSkip'th auction, as (auction, price). */
function query2(events: PCollection<NexmarkEvent>): PCollection<string> {
  const skip = QUERY_CONFIG.auctionSkip;
  return justBids(events)
    .apply("Query2.Filter", Filter((b: Bid) => b.auction % skip === 0))
    .apply("Query2.Project", Map((b: Bid) => `${b.auction}\t${b.price}`));
}

/** The auctions with the most bids and that count (Beam's Query5 combine, and Beam Python's MostBidCombineFn). */
interface MostBids {
  auctions: number[];
  count: number;
}

const mostBids: CombineFn<[number, number], MostBids, MostBids> = {
  createAccumulator: () => ({ auctions: [], count: 0 }),
  addInput(acc, [auction, count]) {
    if (count > acc.count) return { auctions: [auction], count };
    if (count === acc.count) acc.auctions.push(auction);
    return acc;
  },
  mergeAccumulators(accs) {
    let best: MostBids = { auctions: [], count: 0 };
    for (const a of accs) {
      if (a.count > best.count) best = { auctions: [...a.auctions], count: a.count };
      else if (a.count === best.count) best.auctions.push(...a.auctions);
    }
    return best;
  },
  extractOutput: (acc) => acc,
};

/** Query 5, hot items: per sliding window, the auctions with the most bids. */
function query5(events: PCollection<NexmarkEvent>): PCollection<string> {
  return justBids(events)
    .apply(
      "Query5.Window",
      WindowInto<Bid>(SlidingWindows(Duration.seconds(QUERY_CONFIG.windowSizeSec), Duration.seconds(QUERY_CONFIG.windowPeriodSec))),
    )
    .apply("Query5.BidToAuction", Map((b: Bid) => b.auction))
    .apply("Query5.Count", Count.perElement<number>())
    .apply("Query5.TopCounts", CombineGlobally(mostBids).withoutDefaults())
    .apply(
      "Query5.Select",
      FlatMap((top: MostBids, ctx) => {
        const w = bounds(ctx.window);
        return top.auctions.map((auction) => `${w}\t${auction}\t${top.count}`);
      }),
    );
}

/** Query 7, highest bid: per fixed window, the bids at the window's highest price (found as a side input). */
function query7(events: PCollection<NexmarkEvent>): PCollection<string> {
  const windowed = justBids(events).apply("Query7.Window", WindowInto<Bid>(FixedWindows(Duration.seconds(QUERY_CONFIG.windowSizeSec))));
  const maxPrice = windowed
    .apply("Query7.BidToPrice", Map((b: Bid) => b.price))
    .apply("Query7.MaxPrice", Max.globally<number>().withoutDefaults());
  return windowed.apply(
    "Query7.Select",
    ParDo<Bid, string, { maxPrice: SideInput<number> }>(
      {
        process(b, ctx) {
          if (b.price === ctx.sideInputs.maxPrice) ctx.output(`${bounds(ctx.window)}\t${eventToJson(b)}`);
        },
      },
      { sideInputs: { maxPrice: AsSingleton(maxPrice) } },
    ),
  );
}

/** Query 8, monitor new users: people who opened an auction in the fixed window they joined in. */
function query8(events: PCollection<NexmarkEvent>): PCollection<string> {
  const window = FixedWindows(Duration.seconds(QUERY_CONFIG.windowSizeSec));
  const personsById = events
    .apply(
      "JustPersons",
      ParDo<NexmarkEvent, Person>({
        process(e, ctx) {
          if (e.kind === "person") ctx.output(e);
        },
      }),
    )
    .apply("Query8.WindowPersons", WindowInto<Person>(window))
    .apply("PersonById", Map((p: Person): [number, Person] => [p.id, p]));
  const auctionsBySeller = events
    .apply(
      "JustAuctions",
      ParDo<NexmarkEvent, Auction>({
        process(e, ctx) {
          if (e.kind === "auction") ctx.output(e);
        },
      }),
    )
    .apply("Query8.WindowAuctions", WindowInto<Auction>(window))
    .apply("AuctionBySeller", Map((a: Auction): [number, Auction] => [a.seller, a]));
  return PCollectionRecord.of({ person: personsById, auction: auctionsBySeller })
    .apply("Query8.Join", CoGroupByKey())
    .apply(
      "Query8.Select",
      FlatMap(([, { person, auction }]: [number, { person: Person[]; auction: Auction[] }], ctx) => {
        const p = person[0];
        // Not a person who joined in this window.
        if (p === undefined) return [];
        const w = bounds(ctx.window);
        return auction.map((a) => `${w}\t${p.id}\t${p.name}\t${a.reserve}`);
      }),
    );
}

/**
 * Query 11, user sessions: bids per bidder per session (gap windowSizeSec), a pane for every
 * maxLogEvents bids. The trigger is Beam Python's spelling (an early pane per maxLogEvents, then
 * the on-time pane); Beam Java's Repeatedly(AfterPane.elementCountAtLeast(maxLogEvents)) fires
 * the same panes in batch, where what is left fires when the window closes.
 */
function query11(events: PCollection<NexmarkEvent>): PCollection<string> {
  return justBids(events)
    .apply("Query11.Rekey", Map((b: Bid) => b.bidder))
    .apply(
      "Query11.Sessions",
      WindowInto<number>(Sessions(Duration.seconds(QUERY_CONFIG.windowSizeSec)), {
        trigger: AfterWatermark({ early: AfterCount(QUERY_CONFIG.maxLogEvents) }),
        accumulationMode: "DISCARDING",
        // Beam's occasionalDelaySec / 2, in whole seconds (long division).
        allowedLateness: Duration.seconds(Math.trunc(QUERY_CONFIG.occasionalDelaySec / 2)),
      }),
    )
    .apply("Query11.Count", Count.perElement<number>())
    .apply("Query11.ToResult", Map(([bidder, n]: [number, number], ctx) => `${bounds(ctx.window)}\t${bidder}\t${n}`));
}

export const QUERY_PIPELINES: Readonly<Record<QueryName, (events: PCollection<NexmarkEvent>) => PCollection<string>>> = {
  "0": query0,
  "1": query1,
  "2": query2,
  "5": query5,
  "7": query7,
  "8": query8,
  "11": query11,
};
