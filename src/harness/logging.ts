/**
 * The Fn API logging stream of a worker process: LogEntry messages (worker lifecycle, failed
 * instructions with their instruction and transform ids, and the user's console output) sent in
 * batches to the runner's BeamFnLogging service, where they land in the runner's log (the Flink
 * job server's, Prism's). Everything logged is also written to this process's own stdout/stderr,
 * so `sluice worker-pool` shows it too. A broken logging stream never fails the worker.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { format } from "node:util";
import { type Client, createClient } from "../model/grpc.js";
import { FnApi } from "../model/protos.js";

/** Beam's log severities. */
export type Severity = "TRACE" | "DEBUG" | "INFO" | "NOTICE" | "WARN" | "ERROR" | "CRITICAL";

/** Where a log line came from, when known. */
export interface LogContext {
  readonly instructionId?: string | undefined;
  readonly transformId?: string | undefined;
  /** e.g. "sluice.worker", "console". */
  readonly location?: string | undefined;
}

const SEVERITY: Readonly<Record<Severity, FnApi.LogEntry_Severity_Enum>> = {
  TRACE: FnApi.LogEntry_Severity_Enum.TRACE,
  DEBUG: FnApi.LogEntry_Severity_Enum.DEBUG,
  INFO: FnApi.LogEntry_Severity_Enum.INFO,
  NOTICE: FnApi.LogEntry_Severity_Enum.NOTICE,
  WARN: FnApi.LogEntry_Severity_Enum.WARN,
  ERROR: FnApi.LogEntry_Severity_Enum.ERROR,
  CRITICAL: FnApi.LogEntry_Severity_Enum.CRITICAL,
};

/** Entries kept while the stream is slow or down; older ones are dropped beyond this. */
const MAX_BUFFERED = 10_000;
const FLUSH_EVERY_MS = 200;

/** Sends LogEntries to the runner's logging service, batched. */
export class FnLogStream {
  private readonly client: Client<typeof FnApi.BeamFnLogging>;
  private stream: ReturnType<Client<typeof FnApi.BeamFnLogging>["logging"]> | undefined;
  private pending: FnApi.LogEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private broken = false;
  private closing = false;
  private dropped = 0;

  constructor(
    private readonly workerId: string,
    readonly url: string,
  ) {
    this.client = createClient(FnApi.BeamFnLogging, url, { workerId, label: "the runner's logging service", waitForReady: true });
  }

  /** Queues one entry (sent within FLUSH_EVERY_MS). */
  log(severity: Severity, message: string, context: LogContext = {}): void {
    if (this.broken) return;
    if (this.pending.length >= MAX_BUFFERED) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push(
      create(FnApi.LogEntrySchema, {
        severity: SEVERITY[severity],
        timestamp: timestampFromMs(Date.now()),
        message,
        instructionId: context.instructionId ?? "",
        transformId: context.transformId ?? "",
        logLocation: context.location ?? "",
        thread: `worker ${this.workerId} (pid ${process.pid})`,
      }),
    );
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_EVERY_MS).unref();
  }

  /** Sends what is queued; resolves when the transport took it. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.broken || this.pending.length === 0) return this.sending;
    const batch = this.pending;
    this.pending = [];
    if (this.dropped > 0) {
      batch.unshift(create(FnApi.LogEntrySchema, { severity: SEVERITY.WARN, timestamp: timestampFromMs(Date.now()), message: `${this.dropped} log entries were dropped (the logging stream was slow)` }));
      this.dropped = 0;
    }
    this.sending = this.sending.then(async () => {
      try {
        await this.open().send({ logEntries: batch });
      } catch (err) {
        this.fail(err);
      }
    });
    return this.sending;
  }

  /** Flushes, half-closes the stream and waits up to `timeoutMs` for the runner to end it. */
  async close(timeoutMs = 2000): Promise<void> {
    // The runner may already have ended the stream (it does when the job is over): not an error.
    this.closing = true;
    await Promise.race([this.flush(), delay(timeoutMs)]);
    this.broken = true;
    this.stream?.end();
    await delay(50);
    this.client.close();
  }

  private open(): NonNullable<FnLogStream["stream"]> {
    if (this.stream === undefined) {
      const stream = this.client.logging();
      this.stream = stream;
      // The runner answers with LogControl messages; read them so flow control never stalls.
      void (async () => {
        try {
          for await (const _control of stream) {
            // nothing to do with them
          }
        } catch (err) {
          this.fail(err);
        }
      })();
    }
    return this.stream;
  }

  private fail(err: unknown): void {
    if (this.broken) return;
    this.broken = true;
    this.pending = [];
    if (this.closing) return;
    process.stderr.write(`sluice worker ${this.workerId}: the logging stream to ${this.url} failed, logging locally only: ${String(err)}\n`);
  }
}

/** The console methods routed to the logging stream, with their severities. */
const CONSOLE: ReadonlyArray<readonly ["log" | "info" | "warn" | "error" | "debug", Severity]> = [
  ["log", "INFO"],
  ["info", "INFO"],
  ["warn", "WARN"],
  ["error", "ERROR"],
  ["debug", "DEBUG"],
];

/**
 * Routes `console.log/info/warn/error/debug` to `stream` as well as to the process's own
 * stdout/stderr. Returns a function restoring the originals.
 */
export function captureConsole(stream: FnLogStream): () => void {
  const originals = CONSOLE.map(([name]) => [name, console[name]] as const);
  for (const [name, severity] of CONSOLE) {
    const original = console[name].bind(console);
    console[name] = (...args: unknown[]): void => {
      original(...args);
      stream.log(severity, format(...args), { location: "console" });
    };
  }
  return () => {
    for (const [name, fn] of originals) console[name] = fn;
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
