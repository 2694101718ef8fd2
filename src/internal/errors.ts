/**
 * Sluice's one error vocabulary. Every failure the SDK, runners and CLI report is a SluiceError
 * with a closed `code`, a message saying what happened, and a `hint` saying what to do about it.
 * Catch sites turn anything thrown into a SluiceError with `SluiceError.from(err)`.
 */

/**
 * What kind of failure a SluiceError is. The names follow gRPC's status codes where they overlap,
 * so the portable runner can map job-service failures onto them one to one.
 */
export type ErrorCode =
  /** A caller passed a bad value: a malformed flag, an out-of-range number, a wrong type. */
  | "INVALID_ARGUMENT"
  /** The pipeline graph is malformed: a missing coder, an unbound PCollection, a bad window. */
  | "INVALID_PIPELINE"
  /** Code the user wrote (a DoFn, a CombineFn, the pipeline file itself) threw. */
  | "USER_CODE_FAILED"
  /** Bytes could not be encoded or decoded: corrupt input, a coder mismatch. */
  | "INVALID_DATA"
  /** Reading or writing files, sockets or other I/O failed. */
  | "IO_ERROR"
  /** Something named does not exist: a file, a job, a transform. */
  | "NOT_FOUND"
  /** Something to be created exists already. */
  | "ALREADY_EXISTS"
  /** The operating system or a service refused access. */
  | "PERMISSION_DENIED"
  /** The system is not in the state the operation needs (e.g. running a pipeline twice). */
  | "FAILED_PRECONDITION"
  /** The feature is not implemented by this runner or SDK version. */
  | "UNSUPPORTED"
  /** A job submitted to a runner failed there. */
  | "JOB_FAILED"
  /** The operation was cancelled (by the user, a signal, or an AbortSignal). */
  | "CANCELLED"
  /** The operation did not finish in time. */
  | "DEADLINE_EXCEEDED"
  /** Memory (or another resource) ran out: a stage's heap use neared V8's limit. */
  | "RESOURCE_EXHAUSTED"
  /** A service (job server, worker, cluster) could not be reached. */
  | "UNAVAILABLE"
  /** A bug in sluice itself. */
  | "INTERNAL";

/** Alias of ErrorCode. */
export type SluiceErrorCode = ErrorCode;

/** Every ErrorCode, for validation and exhaustive tables. */
export const ERROR_CODES: readonly ErrorCode[] = [
  "INVALID_ARGUMENT",
  "INVALID_PIPELINE",
  "USER_CODE_FAILED",
  "INVALID_DATA",
  "IO_ERROR",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "FAILED_PRECONDITION",
  "UNSUPPORTED",
  "JOB_FAILED",
  "CANCELLED",
  "DEADLINE_EXCEEDED",
  "RESOURCE_EXHAUSTED",
  "UNAVAILABLE",
  "INTERNAL",
];

/** Options for `new SluiceError(...)`. */
export interface SluiceErrorOptions {
  /** What the reader should do about it, e.g. "pass --output=<path>". */
  readonly hint?: string | undefined;
  /** The underlying error, kept for stacks and debugging. */
  readonly cause?: unknown;
}

/** The plain-object form of a SluiceError (`toJSON()`), for logs and wire messages. */
export interface SluiceErrorJSON {
  readonly name: "SluiceError";
  readonly code: ErrorCode;
  readonly message: string;
  readonly hint?: string;
  readonly cause?: string;
}

/** Marks SluiceErrors so `SluiceError.is` recognises them across duplicated module instances. */
const BRAND = Symbol.for("sluice.error");

/** Node system error codes (err.code) mapped to sluice codes, used by `SluiceError.from`. */
const SYSTEM_CODES: Readonly<Record<string, ErrorCode>> = {
  ENOENT: "NOT_FOUND",
  ENOTDIR: "NOT_FOUND",
  EEXIST: "ALREADY_EXISTS",
  EACCES: "PERMISSION_DENIED",
  EPERM: "PERMISSION_DENIED",
  ECONNREFUSED: "UNAVAILABLE",
  ECONNRESET: "UNAVAILABLE",
  EHOSTUNREACH: "UNAVAILABLE",
  ENETUNREACH: "UNAVAILABLE",
  ENOTFOUND: "UNAVAILABLE",
  EAI_AGAIN: "UNAVAILABLE",
  EPIPE: "IO_ERROR",
  EIO: "IO_ERROR",
  EISDIR: "IO_ERROR",
  EMFILE: "IO_ERROR",
  ENOSPC: "IO_ERROR",
  ETIMEDOUT: "DEADLINE_EXCEEDED",
  ABORT_ERR: "CANCELLED",
};

/** Default hints for errors converted by `SluiceError.from`, keyed by code. */
const DEFAULT_HINTS: Partial<Record<ErrorCode, string>> = {
  NOT_FOUND: "check that the path or name is spelled right and exists",
  PERMISSION_DENIED: "check the file permissions, or run as a user that has access",
  UNAVAILABLE: "check that the service is running and the endpoint (host:port) is right",
  DEADLINE_EXCEEDED: "the service may be overloaded or unreachable; retry, or raise the timeout",
  INTERNAL: "this looks like a bug in sluice; rerun with --verbose and report it with the stack",
};

/** The error every sluice API throws. */
export class SluiceError extends Error {
  /** What kind of failure this is. */
  readonly code: ErrorCode;
  /** What to do about it; undefined when there is nothing useful to add. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SluiceError";
    this.code = code;
    this.hint = options.hint;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * True when `value` is a SluiceError (optionally with one of `codes`), also when it came from
   * another copy of the sluice module.
   */
  static is(value: unknown, ...codes: readonly ErrorCode[]): value is SluiceError {
    const branded =
      value instanceof SluiceError ||
      (typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true);
    if (!branded) return false;
    return codes.length === 0 || codes.includes((value as SluiceError).code);
  }

  /**
   * Turns anything caught into a SluiceError. SluiceErrors pass through unchanged; Node system
   * errors map by their `code` (ENOENT → NOT_FOUND, ECONNREFUSED → UNAVAILABLE, …); AbortErrors
   * become CANCELLED and TimeoutErrors DEADLINE_EXCEEDED; anything else gets `fallback`
   * (INTERNAL by default). The original is kept as `cause`.
   */
  static from(err: unknown, fallback: ErrorCode = "INTERNAL"): SluiceError {
    if (SluiceError.is(err)) return err;
    const code = classify(err) ?? fallback;
    const hint = DEFAULT_HINTS[code];
    return new SluiceError(code, describeError(err), { cause: err, hint });
  }

  /**
   * Wraps an error thrown by user code (a DoFn, a CombineFn, a pipeline file) as
   * USER_CODE_FAILED, saying where it was thrown. SluiceErrors pass through unchanged.
   */
  static userCode(err: unknown, where: string): SluiceError {
    if (SluiceError.is(err)) return err;
    return new SluiceError("USER_CODE_FAILED", `${where} threw: ${describeError(err)}`, {
      cause: err,
      hint: "the stack trace below shows where; fix the error in your code and rerun",
    });
  }

  /** A plain object with code, message, hint and the cause's message. */
  toJSON(): SluiceErrorJSON {
    return {
      name: "SluiceError",
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.cause === undefined ? {} : { cause: describeError(this.cause) }),
    };
  }
}

/** The sluice code for a foreign error, or undefined when nothing specific applies. */
function classify(err: unknown): ErrorCode | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const { name, code } = err as { name?: unknown; code?: unknown };
  if (name === "AbortError") return "CANCELLED";
  if (name === "TimeoutError") return "DEADLINE_EXCEEDED";
  if (typeof code === "string") return SYSTEM_CODES[code];
  return undefined;
}

/** A one-line description of anything thrown: the message of an Error, else its string form. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message === "" ? err.name : err.message;
  if (typeof err === "object" && err !== null) {
    const message = (err as { message?: unknown }).message;
    if (typeof message === "string" && message !== "") return message;
    try {
      return JSON.stringify(err) ?? String(err);
    } catch {
      return String(err);
    }
  }
  return String(err);
}
