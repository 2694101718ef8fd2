/**
 * Nexmark's model (Beam's: people, auctions, bids) and the events file's format.
 *
 * The events file holds one JSON object per line with the field names of Beam Java's model, the
 * format Beam Python's Nexmark launcher reads (`ParseJsonEventFn`: a person has `name`, an auction
 * `itemName`, a bid `auction`; times are milliseconds since the epoch):
 *
 *   {"id":1000,"name":"Peter Jones","emailAddress":"…","creditCard":"…","city":"…","state":"…","dateTime":…,"extra":"…"}
 *   {"id":1000,"itemName":"…","description":"…","initialBid":…,"reserve":…,"dateTime":…,"expires":…,"seller":…,"category":…,"extra":"…"}
 *   {"auction":1000,"bidder":1001,"price":…,"dateTime":…,"extra":"…"}
 *
 * In a pipeline an event is one of the three, told apart by `kind` (Beam Java's Event holds one of
 * newPerson, newAuction, bid).
 */
import { AbstractCoder, type ByteReader, type ByteWriter } from "sluice";

export interface Person {
  readonly kind: "person";
  readonly id: number;
  readonly name: string;
  readonly emailAddress: string;
  readonly creditCard: string;
  readonly city: string;
  readonly state: string;
  readonly dateTime: number;
  readonly extra: string;
}

export interface Auction {
  readonly kind: "auction";
  readonly id: number;
  readonly itemName: string;
  readonly description: string;
  readonly initialBid: number;
  readonly reserve: number;
  readonly dateTime: number;
  readonly expires: number;
  readonly seller: number;
  readonly category: number;
  readonly extra: string;
}

export interface Bid {
  readonly kind: "bid";
  readonly auction: number;
  readonly bidder: number;
  readonly price: number;
  readonly dateTime: number;
  readonly extra: string;
}

export type NexmarkEvent = Person | Auction | Bid;

/** The JSON line of an event, fields in Beam Java's order (no `kind`). */
export function eventToJson(e: NexmarkEvent): string {
  switch (e.kind) {
    case "person":
      return JSON.stringify({
        id: e.id,
        name: e.name,
        emailAddress: e.emailAddress,
        creditCard: e.creditCard,
        city: e.city,
        state: e.state,
        dateTime: e.dateTime,
        extra: e.extra,
      });
    case "auction":
      return JSON.stringify({
        id: e.id,
        itemName: e.itemName,
        description: e.description,
        initialBid: e.initialBid,
        reserve: e.reserve,
        dateTime: e.dateTime,
        expires: e.expires,
        seller: e.seller,
        category: e.category,
        extra: e.extra,
      });
    case "bid":
      return JSON.stringify({ auction: e.auction, bidder: e.bidder, price: e.price, dateTime: e.dateTime, extra: e.extra });
  }
}

/** Parses a line of the events file (the field that only one kind has decides, as Beam Python's parser does). */
export function parseEvent(line: string): NexmarkEvent {
  const o = JSON.parse(line) as { kind: NexmarkEvent["kind"] };
  if ("auction" in o) o.kind = "bid";
  else if ("itemName" in o) o.kind = "auction";
  else if ("name" in o) o.kind = "person";
  else throw new Error(`not a Nexmark event: ${line.slice(0, 200)}`);
  return o as NexmarkEvent;
}

const PERSON = 0;
const AUCTION = 1;
const BID = 2;

/**
 * A binary coder for events, for query 0's serialization round trip (Beam's Query0 pushes every
 * event through its coder and back): a tag byte, then the fields in model order, integers as
 * varints (Nexmark's are non-negative) and strings as length-prefixed UTF-8.
 */
class EventCoderImpl extends AbstractCoder<NexmarkEvent> {
  readonly urn = "sluice:bench:coder:nexmark_event:v1";

  encode(e: NexmarkEvent, out: ByteWriter): void {
    switch (e.kind) {
      case "person":
        out.byte(PERSON);
        out.varUint(e.id);
        out.stringUtf8(e.name, true);
        out.stringUtf8(e.emailAddress, true);
        out.stringUtf8(e.creditCard, true);
        out.stringUtf8(e.city, true);
        out.stringUtf8(e.state, true);
        out.varUint(e.dateTime);
        out.stringUtf8(e.extra, true);
        return;
      case "auction":
        out.byte(AUCTION);
        out.varUint(e.id);
        out.stringUtf8(e.itemName, true);
        out.stringUtf8(e.description, true);
        out.varUint(e.initialBid);
        out.varUint(e.reserve);
        out.varUint(e.dateTime);
        out.varUint(e.expires);
        out.varUint(e.seller);
        out.varUint(e.category);
        out.stringUtf8(e.extra, true);
        return;
      case "bid":
        out.byte(BID);
        out.varUint(e.auction);
        out.varUint(e.bidder);
        out.varUint(e.price);
        out.varUint(e.dateTime);
        out.stringUtf8(e.extra, true);
        return;
    }
  }

  decode(input: ByteReader): NexmarkEvent {
    const str = (): string => input.utf8(input.varUint());
    const tag = input.byte();
    switch (tag) {
      case PERSON: {
        const id = input.varUint();
        const name = str();
        const emailAddress = str();
        const creditCard = str();
        const city = str();
        const state = str();
        const dateTime = input.varUint();
        return { kind: "person", id, name, emailAddress, creditCard, city, state, dateTime, extra: str() };
      }
      case AUCTION: {
        const id = input.varUint();
        const itemName = str();
        const description = str();
        const initialBid = input.varUint();
        const reserve = input.varUint();
        const dateTime = input.varUint();
        const expires = input.varUint();
        const seller = input.varUint();
        const category = input.varUint();
        return { kind: "auction", id, itemName, description, initialBid, reserve, dateTime, expires, seller, category, extra: str() };
      }
      case BID: {
        const auction = input.varUint();
        const bidder = input.varUint();
        const price = input.varUint();
        const dateTime = input.varUint();
        return { kind: "bid", auction, bidder, price, dateTime, extra: str() };
      }
      default:
        throw new Error(`EventCoder: unknown event tag ${tag}`);
    }
  }

  toString(): string {
    return "NexmarkEventCoder";
  }
}

export const EventCoder = new EventCoderImpl();
