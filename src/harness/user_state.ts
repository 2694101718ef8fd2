/**
 * A stateful DoFn's state and timers in the harness: the runner keeps them. Each state cell is
 * Beam's bag user state (the one kind Flink's runner serves; the kinds are built on it, see
 * contentsFromBag), loaded over the State API when a bundle first touches a key and window and
 * written back (clear, then append) at the bundle's end if it changed. Timers go to the runner on
 * the data plane as beam:coder:timer:v1 records of their family, and come back the same way when
 * they fire (bundle.ts hands those to the ParDo operator).
 */
import { create } from "@bufbuild/protobuf";
import { type StateKey, StateKey_BagUserStateSchema, StateKeySchema } from "../model/gen/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.js";
import { ByteReader, ByteWriter } from "../sdk/coders/bytes.js";
import type { Coder } from "../sdk/coders/coder.js";
import type { TimerCoder } from "../sdk/coders/windowed.js";
import type { StateSpecData } from "../sdk/state.js";
import { MIN_TIMESTAMP, type Timestamp } from "../sdk/time.js";
import { type BoundedWindow, PANE_NO_FIRING } from "../sdk/windowing/window.js";
import { bagFromContents, contentsFromBag, type StateBackend, type StateCell } from "../runners/direct/state.js";

/** The State API calls a bundle makes. */
export interface StateClient {
  get(key: StateKey): Promise<Uint8Array>;
  append(key: StateKey, data: Uint8Array): Promise<void>;
  clear(key: StateKey): Promise<void>;
}

/** Where a bundle's timers go: the data plane's timer streams. */
export interface TimerSink {
  sendTimers(transformId: string, family: string, bytes: Uint8Array): void;
}

export interface FnStateConfig {
  readonly transformId: string;
  /** The input's key coder as the runner sees it (state keys are encoded with it, nested). */
  readonly keyCoder: Coder<unknown>;
  readonly windowCoder: Coder<BoundedWindow>;
  /** Declared state: its spec and its bag's element coder (from the bundle descriptor). */
  readonly state: ReadonlyMap<string, { readonly spec: StateSpecData; readonly coder: Coder<unknown> }>;
  /** Timer families and their coders (from the bundle descriptor). */
  readonly timerCoders: ReadonlyMap<string, TimerCoder<unknown>>;
  /** The current bundle's State API and data plane. */
  readonly io: () => { readonly state: StateClient; readonly timers: TimerSink };
}

export class FnStateBackend implements StateBackend {
  /** Encoded timers of the current bundle, per family. */
  private readonly pending = new Map<string, ByteWriter>();

  constructor(private readonly config: FnStateConfig) {}

  private stateKey(cell: StateCell, name: string): StateKey {
    const key = new ByteWriter();
    this.config.keyCoder.encode(cell.key, key, true);
    const window = new ByteWriter();
    this.config.windowCoder.encode(cell.window, window, true);
    return create(StateKeySchema, {
      type: {
        case: "bagUserState",
        value: create(StateKey_BagUserStateSchema, { transformId: this.config.transformId, userStateId: name, window: window.finish(), key: key.finish() }),
      },
    });
  }

  load(cell: StateCell): Promise<void> | undefined {
    if (this.config.state.size === 0) return undefined;
    const { state } = this.config.io();
    return Promise.all(
      [...this.config.state].map(async ([name, { spec, coder }]) => {
        const bytes = await state.get(this.stateKey(cell, name));
        const elements: unknown[] = [];
        const reader = new ByteReader(bytes);
        while (!reader.atEnd()) elements.push(coder.decode(reader, true));
        const content = contentsFromBag(spec, elements);
        if (content !== undefined) cell.contents.set(name, content);
      }),
    ).then(() => undefined);
  }

  timer(cell: StateCell, name: string, tag: string, t: { fireTime: Timestamp; outputTimestamp: Timestamp } | "clear"): void {
    const coder = this.config.timerCoders.get(name);
    if (coder === undefined) throw new Error(`timer family '${name}' is not in the bundle descriptor`);
    let w = this.pending.get(name);
    if (w === undefined) this.pending.set(name, (w = new ByteWriter()));
    const base = { userKey: cell.key, dynamicTimerTag: tag, windows: [cell.window] };
    coder.encode(
      t === "clear"
        ? { ...base, clearBit: true }
        : { ...base, clearBit: false, fireTimestamp: t.fireTime, holdTimestamp: Math.max(t.outputTimestamp, MIN_TIMESTAMP), pane: PANE_NO_FIRING },
      w,
      true,
    );
  }

  /** The bundle's end: changed cells written back, timers sent; the caller then forgets the cells. */
  async commit(cells: Iterable<StateCell>): Promise<void> {
    const { state, timers } = this.config.io();
    const writes: Promise<void>[] = [];
    for (const cell of cells) {
      for (const name of cell.dirty) {
        const decl = this.config.state.get(name);
        if (decl === undefined) continue;
        const key = this.stateKey(cell, name);
        const elements = bagFromContents(decl.spec, cell.contents.get(name));
        // In order per key: the clear reaches the runner before the append.
        writes.push(
          state.clear(key).then(() => {
            if (elements.length === 0) return undefined;
            const out = new ByteWriter();
            for (const e of elements) decl.coder.encode(e, out, true);
            return state.append(key, out.finish());
          }),
        );
      }
      cell.dirty.clear();
    }
    await Promise.all(writes);
    for (const [family, w] of this.pending) if (w.length > 0) timers.sendTimers(this.config.transformId, family, w.finish());
    this.pending.clear();
  }
}
