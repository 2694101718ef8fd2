/**
 * All-or-nothing file outputs: a staging directory per writing run, a lock per output prefix, and
 * an atomic (journalled) commit of each shard set.
 *
 * Layout next to an output prefix `dir/base`:
 *
 * - `dir/.sluice-lock-<base>`: JSON `{pid, start, prefix}` of the run writing to the prefix. Created
 *   with O_EXCL; a second live run fails with FAILED_PRECONDITION naming the prefix and holder pid.
 *   A lock whose process is gone (pid dead, or pid reused: its start time differs) is taken over.
 * - `dir/.sluice-temp-<base>.<pid>-<start>-<rand>/`: the run's staging directory. Shards are
 *   written here. `<pid>-<start>` identify the writing process (`start` is the process start time
 *   from /proc, so a reused pid is not mistaken for the writer; 0 where /proc is missing).
 * - `<staging>/commit-<n>.json`: the journal of one shard set's commit (pairs temp → final). It is
 *   written (atomically, via rename) before the first shard is renamed, and removed after the
 *   last. The set is decided once the journal exists.
 *
 * Commit of a set is synchronous (no signal handler or other JS can run in the middle of it):
 * existing final files are moved into the staging directory as backups, then shards are renamed
 * to their final names. If a rename fails, everything renamed so far is moved back and the
 * backups restored: none of the set is published. If the process is killed during the commit
 * (SIGKILL, power loss), the next run to the same directory finds the journal of a dead process
 * and rolls the set forward: the whole set is published.
 *
 * Recovery (`recoverStale`) runs before a run writes to a directory: staging directories of dead
 * processes are rolled forward (journal present) or removed (no journal: the run never decided to
 * commit). A process that ends via `process.exit`, an uncaught error or a signal that Sluice
 * handles removes its own staging directory and lock on the way out (`exit` handler); only
 * SIGKILL and out-of-memory aborts leave them for the next run.
 *
 * Windowed writes: one staging directory can commit many shard sets (`commitSet` per window and
 * pane), each journalled on its own (the direct runner's src/runners/direct/windowed_sink.ts): a
 * set committed stays published when the run fails later; abort removes only what is uncommitted.
 *
 * Readers skip every name containing `.sluice-temp-` and every `.sluice-lock-` file
 * (`isSluiceInternal`).
 */
import { isAlive, processStartTime } from "../../internal/process.js";
import { randomBytes } from "node:crypto";
import {
  accessSync,
  constants as fsConstants,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { SluiceError } from "../../internal/errors.js";

export const TEMP_MARK = ".sluice-temp-";
export const LOCK_MARK = ".sluice-lock-";

/** True for a path segment that is one of Sluice's staging directories/files or locks. */
export function isSluiceInternal(segment: string): boolean {
  return segment.includes(TEMP_MARK) || segment.startsWith(LOCK_MARK);
}

const SELF_START = String(processStartTime(process.pid) ?? 0);

/** This process's identity as written into staging names and locks. */
export function selfOwner(): { pid: number; start: string } {
  return { pid: process.pid, start: SELF_START };
}

/** Whether the process that wrote `pid`/`start` still runs (a reused pid with another start time does not count). */
export function ownerAlive(pid: number, start: string): boolean {
  if (pid === process.pid) return start === SELF_START || start === "0";
  return isAlive({ pid, startTime: Number(start) || 0 });
}

const IO_HINTS: Readonly<Record<string, string>> = {
  ENOSPC: "The disk (or quota) holding this file is full: free space, or write somewhere else.",
  EDQUOT: "The disk quota for this file's owner is exhausted: free space, or write somewhere else.",
  EACCES: "Permission denied: check the permissions of the file and its directories, or use another location.",
  EPERM: "The operating system does not allow this operation here: choose another location.",
  EROFS: "The file system is read-only: write somewhere else.",
  ENOENT: "The file or one of its directories does not exist (or was removed while running): check the path.",
  ENOTDIR: "A part of the path is a file, not a directory: check the path.",
  EISDIR: "The path is a directory, not a file: name a file, or a glob such as 'dir/*'.",
  EMFILE: "Too many open files: raise the limit (ulimit -n) or read fewer files at once.",
  ENFILE: "The system ran out of file handles: close other programs or raise the limit.",
  EIO: "The device reported an I/O error: check the disk (or the device behind this path).",
  ENAMETOOLONG: "The path is too long for the file system: use a shorter prefix.",
  EXDEV: "The output prefix and its staging directory are on different file systems.",
};

/**
 * An IO_ERROR for a failed file operation: names the operation, the file and the OS error
 * (`ENOSPC: no space left on device`), with a hint for the error.
 */
export function ioError(what: string, path: string, err: unknown, hint?: string): SluiceError {
  if (SluiceError.is(err)) return err;
  const e = err as NodeJS.ErrnoException;
  const os = e?.code !== undefined ? `${e.code}${e.message?.startsWith(e.code) ? e.message.slice(e.code.length) : `: ${e.message}`}` : String(e?.message ?? err);
  return new SluiceError("IO_ERROR", `${what} ${path} failed: ${os}`, {
    hint: (e?.code !== undefined ? IO_HINTS[e.code] : undefined) ?? hint ?? "Check that the path exists and is accessible.",
    cause: err,
  });
}

/**
 * Creates `dir` and its missing parents, failing at once where it cannot (Node's recursive mkdir
 * loops forever under /proc, and reports odd errors elsewhere).
 */
export function makeDirs(dir: string, forWhat: string): void {
  const missing: string[] = [];
  let cur = dir;
  for (;;) {
    let st;
    try {
      st = statSync(cur);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a file higher up; walking on finds it and says so.
      if (code !== "ENOENT" && code !== "ENOTDIR") throw ioError(`Creating directory for ${forWhat}:`, cur, err);
      missing.push(cur);
      const up = dirname(cur);
      if (up === cur) break;
      cur = up;
      continue;
    }
    if (!st.isDirectory()) {
      throw new SluiceError("IO_ERROR", `Cannot create ${dir} for ${forWhat}: ${cur} is a file, not a directory`, {
        hint: "Choose an output prefix whose parent path is made of directories (--output).",
      });
    }
    try {
      accessSync(cur, fsConstants.W_OK | fsConstants.X_OK);
    } catch (err) {
      throw ioError(`Writing into ${cur} for ${forWhat}: access to`, cur, err);
    }
    break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw ioError(`Creating directory for ${forWhat}:`, d, err, "Choose an output prefix in a writable location (--output).");
    }
  }
}

interface Journal {
  readonly pairs: readonly { temp: string; final: string }[];
}

/**
 * Finishes the renames of a decided commit (after a crash); idempotent. Temporaries are looked up
 * beside the journal: recovery moves the staging directory (to claim it) before rolling forward.
 */
function rollForward(journalPath: string): void {
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as Journal;
  for (const { temp, final } of journal.pairs) {
    const moved = join(dirname(journalPath), basename(temp));
    if (existsSync(moved)) renameSync(moved, final);
  }
  unlinkSync(journalPath);
}

const STAGING_RE = /\.(\d+)-(\d+)-[0-9a-f]+$/;

/**
 * Cleans up after crashed runs in `dir`: staging directories of dead processes are rolled forward
 * (a commit was in progress) or removed. Returns the staging directories it handled.
 */
export function recoverStale(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const handled: string[] = [];
  for (const name of names) {
    if (name.startsWith(LOCK_MARK) && !name.includes(".", LOCK_MARK.length)) {
      // A lock of a dead run (another prefix in this directory): remove it the way acquire takes one over.
      try {
        const raw = readFileSync(join(dir, name), "utf8");
        const holder = JSON.parse(raw) as LockHolder;
        if (!ownerAlive(holder.pid, holder.start)) OutputLock.removeStale(join(dir, name), raw);
      } catch {
        // gone or not ours
      }
      continue;
    }
    if (!name.startsWith(TEMP_MARK)) continue;
    const m = STAGING_RE.exec(name);
    if (!m || ownerAlive(Number(m[1]), m[2]!)) continue;
    // Claim it first with an atomic rename to a name this (live) process owns: of two runs
    // recovering the same directory, one wins and the other moves on; if this one dies meanwhile,
    // the claimed directory is a dead run's again, journals and all.
    const me = selfOwner();
    const staging = join(dir, `${TEMP_MARK}recovered.${me.pid}-${me.start}-${randomBytes(6).toString("hex")}`);
    try {
      renameSync(join(dir, name), staging);
    } catch {
      continue; // claimed by another run, or gone
    }
    let journals: string[] = [];
    try {
      journals = readdirSync(staging).filter((n) => /^commit-\d+\.json$/.test(n)).sort();
    } catch {
      // a staging file, not a directory: nothing was decided in it
    }
    try {
      for (const f of journals) rollForward(join(staging, f));
    } catch (err) {
      // A decided commit that cannot be finished now keeps its temporaries and backups for a later run.
      process.stderr.write(`sluice: warning: could not finish a crashed run's commit in ${staging}: ${(err as Error).message}; left in place\n`);
      continue;
    }
    rmSync(staging, { recursive: true, force: true });
    handled.push(join(dir, name));
  }
  return handled;
}

/** Sleeps synchronously (lock contention only). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

interface LockHolder {
  readonly pid: number;
  readonly start: string;
  readonly prefix?: string;
}

/** The lock of one output prefix, held by this process until released. */
export class OutputLock {
  private held = false;

  private constructor(readonly path: string) {}

  static pathFor(prefix: string): string {
    return join(dirname(prefix + "x"), `${LOCK_MARK}${basename(prefix + "x").slice(0, -1)}`);
  }

  /** Takes the lock of `prefix`; a live holder is an error naming the prefix and its pid. */
  static acquire(prefix: string, label: string): OutputLock {
    const lock = new OutputLock(OutputLock.pathFor(prefix));
    const me = selfOwner();
    const content = JSON.stringify({ ...me, prefix });
    for (let attempt = 0; attempt < 50; attempt++) {
      // Write the whole content first, then link it into place: the lock never exists half-written.
      const tmp = `${lock.path}.${me.pid}-${randomBytes(4).toString("hex")}`;
      try {
        writeFileSync(tmp, content, { flag: "wx" });
        try {
          linkSync(tmp, lock.path);
          lock.held = true;
          return lock;
        } finally {
          rmSync(tmp, { force: true });
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(`Locking output prefix ${prefix}: creating`, lock.path, err);
      }
      let holder: LockHolder | undefined;
      let raw = "";
      try {
        raw = readFileSync(lock.path, "utf8");
        holder = JSON.parse(raw) as LockHolder;
      } catch {
        holder = undefined; // gone meanwhile (retry) or not ours
      }
      if (holder !== undefined && ownerAlive(holder.pid, holder.start)) {
        const who = holder.pid === me.pid ? "this same process (another WriteToText of this pipeline, or another pipeline running in this process)" : `process ${holder.pid}`;
        throw new SluiceError(
          "FAILED_PRECONDITION",
          `Transform '${label}' cannot write to '${prefix}': another run is writing there (${who} holds ${lock.path})`,
          {
            hint:
              holder.pid === me.pid
                ? "Give each WriteToText (and each pipeline running at the same time) its own output prefix."
                : `Wait for process ${holder.pid} to finish, or write to another prefix (--output). The lock is taken over automatically once that process is gone.`,
          },
        );
      }
      if (holder !== undefined || raw !== "") OutputLock.removeStale(lock.path, raw);
      else sleepSync(5);
    }
    throw new SluiceError("FAILED_PRECONDITION", `Transform '${label}' could not lock output prefix '${prefix}' (${lock.path})`, {
      hint: "Another run keeps taking the lock; retry, or write to another prefix.",
    });
  }

  /** Removes a stale lock if it still has the content we judged stale; one taker at a time. */
  static removeStale(path: string, staleContent: string): void {
    const mutex = `${path}.takeover`;
    try {
      writeFileSync(mutex, String(process.pid), { flag: "wx" });
    } catch {
      // Someone else is taking over; their mutex is short-lived unless they died holding it.
      try {
        if (Date.now() - statSync(mutex).mtimeMs > 10_000) rmSync(mutex, { force: true });
      } catch {
        // gone
      }
      sleepSync(20);
      return;
    }
    try {
      let now = "";
      try {
        now = readFileSync(path, "utf8");
      } catch {
        return;
      }
      if (now === staleContent) unlinkSync(path);
    } finally {
      rmSync(mutex, { force: true });
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    rmSync(this.path, { force: true });
  }
}

/** Staging areas that must be cleaned up if the process exits before they are committed or aborted. */
const live = new Set<ShardStaging>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const s of [...live]) s.abortSync();
  });
}

function warnLeftBehind(dir: string, err: unknown): void {
  process.stderr.write(`sluice: warning: the output was published, but ${dir} could not be removed (${(err as Error).message}); the next run to this location removes it\n`);
}

/** A run's staging directory for one output prefix, with the prefix's lock. */
export class ShardStaging {
  private commits = 0;
  private closed = false;

  private constructor(
    readonly prefix: string,
    readonly dir: string,
    private readonly lock: OutputLock,
  ) {}

  /**
   * Locks `prefix`, recovers crashed runs in its directory and creates a fresh staging directory.
   * Fails at once (IO_ERROR naming the path) when the location cannot be written.
   */
  static create(prefix: string, label: string): ShardStaging {
    const parent = dirname(prefix + "x");
    makeDirs(parent, `WriteToText('${prefix}') in '${label}'`);
    const lock = OutputLock.acquire(prefix, label);
    try {
      recoverStale(parent);
      const { pid, start } = selfOwner();
      const dir = join(parent, `${TEMP_MARK}${basename(prefix + "x").slice(0, -1)}.${pid}-${start}-${randomBytes(6).toString("hex")}`);
      try {
        mkdirSync(dir);
      } catch (err) {
        throw ioError(`Creating the staging directory of '${label}':`, dir, err, "Choose an output prefix in a writable directory (--output).");
      }
      const staging = new ShardStaging(prefix, dir, lock);
      installExitHook();
      live.add(staging);
      return staging;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** A path for a temporary file in the staging directory. */
  path(name: string): string {
    return join(this.dir, name);
  }

  /**
   * Publishes one shard set atomically: all of `pairs` get their final names, or none does (an
   * existing final file is replaced only when the whole set is published). Synchronous on purpose.
   * `afterRename` is a test seam called after each shard's rename.
   */
  commitSet(pairs: readonly { temp: string; final: string }[], afterRename?: (i: number) => void): void {
    const n = this.commits++;
    const journal = join(this.dir, `commit-${n}.json`);
    try {
      writeFileSync(`${journal}.tmp`, JSON.stringify({ pairs } satisfies Journal));
      renameSync(`${journal}.tmp`, journal);
    } catch (err) {
      throw ioError("Writing the commit journal", journal, err);
    }
    const done: { temp: string; final: string; backup: string | undefined }[] = [];
    try {
      for (let i = 0; i < pairs.length; i++) {
        const { temp, final } = pairs[i]!;
        let backup: string | undefined = join(this.dir, `backup-${n}-${i}`);
        try {
          renameSync(final, backup);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError("Replacing", final, err);
          backup = undefined;
        }
        try {
          renameSync(temp, final);
        } catch (err) {
          if (backup !== undefined) renameSync(backup, final);
          throw ioError(`Publishing shard ${i} of ${pairs.length} as`, final, err);
        }
        done.push({ temp, final, backup });
        afterRename?.(i);
      }
    } catch (err) {
      // Roll back: unpublish what was renamed, restore what it replaced. The journal goes last.
      for (const d of done.reverse()) {
        try {
          renameSync(d.final, d.temp);
          if (d.backup !== undefined) renameSync(d.backup, d.final);
        } catch {
          // best effort: the error below names the first failure
        }
      }
      rmSync(journal, { force: true });
      throw err;
    }
    // Published: what is left is tidying, which must not turn a published set into a failure.
    try {
      rmSync(journal, { force: true });
      for (const d of done) if (d.backup !== undefined) rmSync(d.backup, { force: true });
    } catch (err) {
      warnLeftBehind(this.dir, err);
    }
  }

  /** Removes the staging directory and releases the lock (after the last commit); cannot fail a published run. */
  finish(): void {
    try {
      this.abortSync();
    } catch (err) {
      warnLeftBehind(this.dir, err);
    }
  }

  /** Removes everything not committed and releases the lock; safe to call more than once and in an exit handler. */
  abortSync(): void {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } finally {
      this.lock.release();
    }
  }
}
