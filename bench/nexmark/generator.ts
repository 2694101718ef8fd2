/**
 * Beam's Nexmark event generator (Beam Java's `Generator`, `GeneratorConfig` and the person,
 * auction and bid generators), written for Sluice's bench. Deterministic: every event draws from a
 * `java.util.Random` seeded with its event id, so a configuration always yields the same events,
 * the ones Beam Java's generator yields for it.
 *
 * What Beam's batch source does, and so what this does: the configuration is split into
 * `numEventGenerators` sub-generators (100 by default), each owning a contiguous range of event
 * ids and running on its own timeline from `baseTime`, one event per inter-event delay (the
 * overall rate divided among the generators: 10,000 events/s overall is one event every 10 ms per
 * generator). An event id's remainder modulo 50 decides its kind: 1 person, 3 auctions, 46 bids
 * in every 50 ids.
 */
import type { Auction, Bid, NexmarkEvent, Person } from "./model.js";
import { JavaRandom } from "./java_random.js";

/** Beam Java's NexmarkConfiguration fields the generator reads, with Beam's defaults. */
export interface GeneratorOptions {
  readonly numEvents: number;
  readonly numEventGenerators: number;
  readonly rateShape: "SQUARE" | "SINE";
  /** Overall events per second at first (rateUnit PER_SECOND). */
  readonly firstEventRate: number;
  readonly nextEventRate: number;
  readonly ratePeriodSec: number;
  readonly avgPersonByteSize: number;
  readonly avgAuctionByteSize: number;
  readonly avgBidByteSize: number;
  readonly hotAuctionRatio: number;
  readonly hotSellersRatio: number;
  readonly hotBiddersRatio: number;
  readonly numInFlightAuctions: number;
  readonly numActivePeople: number;
  readonly outOfOrderGroupSize: number;
  /** Event time of the first event: Beam's fixed BASE_TIME, 2015-07-15T00:00:00Z. */
  readonly baseTime: number;
}

export const DEFAULT_GENERATOR_OPTIONS: GeneratorOptions = Object.freeze({
  numEvents: 100_000,
  numEventGenerators: 100,
  rateShape: "SINE",
  firstEventRate: 10_000,
  nextEventRate: 10_000,
  ratePeriodSec: 600,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
  hotAuctionRatio: 2,
  hotSellersRatio: 4,
  hotBiddersRatio: 4,
  numInFlightAuctions: 100,
  numActivePeople: 1000,
  outOfOrderGroupSize: 1,
  baseTime: Date.UTC(2015, 6, 15),
});

// GeneratorConfig's constants.
const FIRST_AUCTION_ID = 1000;
const FIRST_PERSON_ID = 1000;
const FIRST_CATEGORY_ID = 10;
const PERSON_PROPORTION = 1;
const AUCTION_PROPORTION = 3;
const BID_PROPORTION = 46;
const PROPORTION_DENOMINATOR = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;
// The model generators' constants.
const PERSON_ID_LEAD = 10;
const AUCTION_ID_LEAD = 10;
const NUM_CATEGORIES = 5;
const HOT_SELLER_RATIO = 100;
const HOT_AUCTION_RATIO = 100;
const HOT_BIDDER_RATIO = 100;
const MIN_STRING_LENGTH = 3;
const SINE_STEPS = 10;

const US_STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"];
const FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
const LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];

/** Java's long division of non-negative operands. */
const div = (a: number, b: number): number => Math.floor(a / b);

/** Microseconds between events at `rate` per second (Beam's RateUnit.rateToPeriodUs). */
const rateToPeriodUs = (rate: number): number => div(1_000_000 + div(rate, 2), rate);

/** The per-generator inter-event delays (µs) of the rate shape, and how long each step lasts (s). */
function rateSchedule(o: GeneratorOptions): { delaysUs: number[]; stepLengthSec: number } {
  const n = o.numEventGenerators;
  if (o.firstEventRate === o.nextEventRate) return { delaysUs: [rateToPeriodUs(o.firstEventRate) * n], stepLengthSec: 0 };
  if (o.rateShape === "SQUARE") {
    return { delaysUs: [rateToPeriodUs(o.firstEventRate) * n, rateToPeriodUs(o.nextEventRate) * n], stepLengthSec: div(o.ratePeriodSec + 1, 2) };
  }
  const mid = (o.firstEventRate + o.nextEventRate) / 2;
  const amp = (o.firstEventRate - o.nextEventRate) / 2;
  const delaysUs: number[] = [];
  for (let i = 0; i < SINE_STEPS; i++) {
    delaysUs.push(rateToPeriodUs(Math.round(mid + amp * Math.cos((2 * Math.PI * i) / SINE_STEPS))) * n);
  }
  return { delaysUs, stepLengthSec: div(o.ratePeriodSec + SINE_STEPS - 1, SINE_STEPS) };
}

/** One sub-generator's configuration (Beam's GeneratorConfig after `split`). */
class Config {
  private readonly delaysUs: number[];
  private readonly stepLengthSec: number;
  private readonly eventsPerEpoch: number = 0;
  private readonly epochPeriodMs: number = 0;

  constructor(
    readonly options: GeneratorOptions,
    readonly firstEventId: number,
    readonly maxEvents: number,
    readonly firstEventNumber: number,
  ) {
    ({ delaysUs: this.delaysUs, stepLengthSec: this.stepLengthSec } = rateSchedule(options));
    if (this.delaysUs.length > 1) {
      for (const d of this.delaysUs) {
        const events = div(this.stepLengthSec * 1_000_000, d);
        this.eventsPerEpoch += events;
        this.epochPeriodMs += div(events * d, 1000);
      }
    }
  }

  nextEventNumber(numEvents: number): number {
    return this.firstEventNumber + numEvents;
  }

  /** The event number adjusted for out-of-order groups (the identity for the default group size 1). */
  nextAdjustedEventNumber(numEvents: number): number {
    const n = this.options.outOfOrderGroupSize;
    const eventNumber = this.nextEventNumber(numEvents);
    return div(eventNumber, n) * n + ((eventNumber * 953) % n);
  }

  /** The event time of event number `eventNumber` on this generator's timeline. */
  timestampForEvent(eventNumber: number): number {
    const base = this.options.baseTime;
    if (this.delaysUs.length === 1) return base + div(eventNumber * this.delaysUs[0]!, 1000);
    const epoch = div(eventNumber, this.eventsPerEpoch);
    let n = eventNumber % this.eventsPerEpoch;
    let offsetInEpochMs = 0;
    for (const d of this.delaysUs) {
      const events = div(this.stepLengthSec * 1_000_000, d);
      if (n < events) return base + epoch * this.epochPeriodMs + offsetInEpochMs + div(n * d, 1000);
      n -= events;
      offsetInEpochMs += div(events * d, 1000);
    }
    throw new Error("eventsPerEpoch inconsistent with the rate schedule");
  }
}

/** Splits the whole configuration into the sub-generators Beam's bounded source reads. */
function splitConfigs(o: GeneratorOptions): Config[] {
  const n = o.numEventGenerators;
  if (n === 1) return [new Config(o, 0, o.numEvents, 0)];
  const configs: Config[] = [];
  const sub = div(o.numEvents, n);
  let firstEventId = 0;
  for (let i = 0; i < n; i++) {
    const max = i === n - 1 ? o.numEvents - sub * (n - 1) : sub;
    configs.push(new Config(o, firstEventId, max, 0));
    firstEventId += max;
  }
  return configs;
}

// ---- Strings, prices, ids (Beam's StringsGenerator, PriceGenerator, LongGenerator, id helpers).

function nextString(random: JavaRandom, maxLength: number): string {
  let len = MIN_STRING_LENGTH + random.nextInt(maxLength - MIN_STRING_LENGTH);
  let s = "";
  while (len-- > 0) s += random.nextInt(13) === 0 ? " " : String.fromCharCode(97 + random.nextInt(26));
  return s.trim();
}

function nextExactString(random: JavaRandom, length: number): string {
  let s = "";
  let rnd = 0;
  let n = 0;
  while (length-- > 0) {
    if (n === 0) {
      rnd = random.nextInt();
      n = 6;
    }
    // Java's remainder and division truncate toward zero, so a negative draw gives characters below 'a'.
    s += String.fromCharCode(97 + (rnd % 26));
    rnd = (rnd / 26) | 0;
    n--;
  }
  return s;
}

function nextExtra(random: JavaRandom, currentSize: number, desiredAverageSize: number): string {
  if (currentSize > desiredAverageSize) return "";
  const desired = desiredAverageSize - currentSize;
  const delta = Math.round(desired * 0.2);
  const minSize = desired - delta;
  return nextExactString(random, minSize + (delta === 0 ? 0 : random.nextInt(2 * delta)));
}

function nextPrice(random: JavaRandom): number {
  return Math.round(Math.pow(10, random.nextDouble() * 6) * 100);
}

function nextLong(random: JavaRandom, n: number): number {
  if (n < 0x7fffffff) return random.nextInt(n);
  const r = random.nextLong() % BigInt(n);
  return Number(r < 0n ? -r : r);
}

function lastBase0PersonId(eventId: number): number {
  const epoch = div(eventId, PROPORTION_DENOMINATOR);
  let offset = eventId % PROPORTION_DENOMINATOR;
  if (offset >= PERSON_PROPORTION) offset = PERSON_PROPORTION - 1;
  return epoch * PERSON_PROPORTION + offset;
}

function nextBase0PersonId(eventId: number, random: JavaRandom, o: GeneratorOptions): number {
  const numPeople = lastBase0PersonId(eventId) + 1;
  const activePeople = Math.min(numPeople, o.numActivePeople);
  return numPeople - activePeople + nextLong(random, activePeople + PERSON_ID_LEAD);
}

function lastBase0AuctionId(eventId: number): number {
  let epoch = div(eventId, PROPORTION_DENOMINATOR);
  let offset = eventId % PROPORTION_DENOMINATOR;
  if (offset < PERSON_PROPORTION) {
    epoch--;
    offset = AUCTION_PROPORTION - 1;
  } else if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) {
    offset = AUCTION_PROPORTION - 1;
  } else {
    offset -= PERSON_PROPORTION;
  }
  return epoch * AUCTION_PROPORTION + offset;
}

function nextBase0AuctionId(eventId: number, random: JavaRandom, o: GeneratorOptions): number {
  const maxAuction = lastBase0AuctionId(eventId);
  const minAuction = Math.max(maxAuction - o.numInFlightAuctions, 0);
  return minAuction + nextLong(random, maxAuction - minAuction + 1 + AUCTION_ID_LEAD);
}

// ---- The three kinds of event.

function nextPerson(eventId: number, random: JavaRandom, timestamp: number, o: GeneratorOptions): Person {
  const id = lastBase0PersonId(eventId) + FIRST_PERSON_ID;
  const name = `${FIRST_NAMES[random.nextInt(FIRST_NAMES.length)]} ${LAST_NAMES[random.nextInt(LAST_NAMES.length)]}`;
  const emailAddress = `${nextString(random, 7)}@${nextString(random, 5)}.com`;
  const card: string[] = [];
  for (let i = 0; i < 4; i++) card.push(String(random.nextInt(10000)).padStart(4, "0"));
  const creditCard = card.join(" ");
  const city = US_CITIES[random.nextInt(US_CITIES.length)]!;
  const state = US_STATES[random.nextInt(US_STATES.length)]!;
  const currentSize = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length;
  const extra = nextExtra(random, currentSize, o.avgPersonByteSize);
  return { kind: "person", id, name, emailAddress, creditCard, city, state, dateTime: timestamp, extra };
}

function nextAuctionLengthMs(eventsCountSoFar: number, random: JavaRandom, timestamp: number, config: Config): number {
  const currentEventNumber = config.nextAdjustedEventNumber(eventsCountSoFar);
  const numEventsForAuctions = div(config.options.numInFlightAuctions * PROPORTION_DENOMINATOR, AUCTION_PROPORTION);
  const futureAuction = config.timestampForEvent(currentEventNumber + numEventsForAuctions);
  const horizonMs = futureAuction - timestamp;
  return 1 + nextLong(random, Math.max(horizonMs * 2, 1));
}

function nextAuction(eventsCountSoFar: number, eventId: number, random: JavaRandom, timestamp: number, config: Config): Auction {
  const o = config.options;
  const id = lastBase0AuctionId(eventId) + FIRST_AUCTION_ID;
  let seller: number;
  // P(a hot seller) = 1 - 1/hotSellersRatio: the first person of the latest batch of HOT_SELLER_RATIO.
  if (random.nextInt(o.hotSellersRatio) > 0) seller = div(lastBase0PersonId(eventId), HOT_SELLER_RATIO) * HOT_SELLER_RATIO;
  else seller = nextBase0PersonId(eventId, random, o);
  seller += FIRST_PERSON_ID;
  const category = FIRST_CATEGORY_ID + random.nextInt(NUM_CATEGORIES);
  const initialBid = nextPrice(random);
  const expires = timestamp + nextAuctionLengthMs(eventsCountSoFar, random, timestamp, config);
  const itemName = nextString(random, 20);
  const description = nextString(random, 100);
  const reserve = initialBid + nextPrice(random);
  const currentSize = 8 + itemName.length + description.length + 8 + 8 + 8 + 8 + 8;
  const extra = nextExtra(random, currentSize, o.avgAuctionByteSize);
  return { kind: "auction", id, itemName, description, initialBid, reserve, dateTime: timestamp, expires, seller, category, extra };
}

function nextBid(eventId: number, random: JavaRandom, timestamp: number, o: GeneratorOptions): Bid {
  let auction: number;
  // P(a hot auction) = 1 - 1/hotAuctionRatio: the first auction of the latest batch of HOT_AUCTION_RATIO.
  if (random.nextInt(o.hotAuctionRatio) > 0) auction = div(lastBase0AuctionId(eventId), HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO;
  else auction = nextBase0AuctionId(eventId, random, o);
  auction += FIRST_AUCTION_ID;
  let bidder: number;
  // P(a hot bidder) = 1 - 1/hotBiddersRatio: the second person of the latest batch (hot sellers are the first).
  if (random.nextInt(o.hotBiddersRatio) > 0) bidder = div(lastBase0PersonId(eventId), HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1;
  else bidder = nextBase0PersonId(eventId, random, o);
  bidder += FIRST_PERSON_ID;
  const price = nextPrice(random);
  const extra = nextExtra(random, 8 + 8 + 8 + 8, o.avgBidByteSize);
  return { kind: "bid", auction, bidder, price, dateTime: timestamp, extra };
}

/** One sub-generator: its events in order, each with its event time. */
function* generate(config: Config): Generator<NexmarkEvent> {
  const random = new JavaRandom(0);
  for (let count = 0; count < config.maxEvents; count++) {
    const timestamp = config.timestampForEvent(config.nextAdjustedEventNumber(count));
    const eventId = config.firstEventId + config.nextAdjustedEventNumber(count);
    random.setSeed(eventId);
    const rem = eventId % PROPORTION_DENOMINATOR;
    if (rem < PERSON_PROPORTION) yield nextPerson(eventId, random, timestamp, config.options);
    else if (rem < PERSON_PROPORTION + AUCTION_PROPORTION) yield nextAuction(count, eventId, random, timestamp, config);
    else yield nextBid(eventId, random, timestamp, config.options);
  }
}

/**
 * All events of the configuration, the sub-generators' streams interleaved event by event: every
 * sub-generator runs the same timeline (event number k is at the same time on each), so this is
 * event-time order, as a runner reading the split source would see the events arrive overall.
 * The order changes no query's result; it only makes the file read like a stream.
 */
export function* nexmarkEvents(overrides: Partial<GeneratorOptions> = {}): Generator<NexmarkEvent> {
  const options: GeneratorOptions = { ...DEFAULT_GENERATOR_OPTIONS, ...overrides };
  if (!Number.isSafeInteger(options.numEvents) || options.numEvents < 0) throw new RangeError(`numEvents must be a non-negative integer, got ${options.numEvents}`);
  let live = splitConfigs(options).map((c) => generate(c));
  while (live.length > 0) {
    const next: Generator<NexmarkEvent>[] = [];
    for (const stream of live) {
      const r = stream.next();
      if (r.done) continue;
      yield r.value;
      next.push(stream);
    }
    live = next;
  }
}
