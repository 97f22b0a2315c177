/**
 * Idempotency: the key, the store port, and the in-memory and file adapters (CLI and tests). The
 * deployed adapters live with their platform: Powertools + DynamoDB on AWS, Tablestore on Alibaba
 * Cloud. The key is the work, not the delivery: hash(function id, account, region, resource,
 * desired key) — never the event id or the path that found it, so a live event, a sweep and a
 * timer tick about one resource share one key and one lock.
 *
 * What a record settles. A completed record remembers when its run began (`startedAt`, taken
 * before the run's first read). A delivery observed at or before that moment is that run's work:
 * `duplicate`. A delivery observed later is new work (a re-creation under the same name, a tamper,
 * a later drift) and runs — usually one read that finds it `compliant`. The start, not the end, is
 * the bound: a change made while the run was between its read and its completion may not have been
 * seen by it.
 *
 * Every store: the first holder marks the key in progress for `lockSeconds` (as long as one
 * invocation can run); settled work is recorded completed for `ttlSeconds`; unsettled work (failed,
 * deferred, thrown) releases the key. A store failure while claiming throws IdempotencyStoreError;
 * one while recording or releasing comes back as `storeError` beside the work's value, so the
 * caller can say "written, but not recorded" instead of "failed".
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError, IdempotencyStoreError, storeError } from './errors.ts';

export interface IdempotencyKeyParts {
  functionId: string;
  account: string;
  region: string;
  resource: string;
  /** The key (or setting) being applied: a new desired key is new work. */
  desired: string;
}

/** Stable, printable, 64 hex chars. Parts are JSON-encoded so `a|b` and `a` + `|b` never collide. */
export function idempotencyKey(parts: IdempotencyKeyParts): string {
  const ordered = [parts.functionId, parts.account, parts.region, parts.resource, parts.desired];
  return createHash('sha256').update(JSON.stringify(ordered)).digest('hex');
}

/** What the work returned, and whether its record should be kept (completed) or released. */
export interface Settled<T> {
  value: T;
  /** true: mark completed (deliveries observed before the run began are `duplicate`). false: release the key. */
  keep: boolean;
}

export interface RunOptions {
  /** How long a completed record answers later deliveries. */
  ttlSeconds: number;
  /** How long one invocation can run: a lock its holder never released (killed) frees itself after this. */
  lockSeconds: number;
  /** When the delivery was observed, epoch ms (Target.observedAt). */
  observedAt: number;
}

export type RunResult<T> =
  | {
      kind: 'ran';
      value: T;
      /** The work ran, but recording its completion (keep) or releasing the key (not keep) failed. */
      storeError?: IdempotencyStoreError;
    }
  | { kind: 'duplicate'; state: 'inProgress' | 'completed' };

export interface IdempotencyStore {
  /**
   * Runs `work` at most once per key among concurrent and repeated calls. A held key, or a
   * completed one that started at or after `observedAt`, returns `duplicate` without running. If
   * `work` throws, the key is released (best effort) and the error passes. A failure to claim
   * throws IdempotencyStoreError.
   */
  run<T>(key: string, options: RunOptions, work: () => Promise<Settled<T>>): Promise<RunResult<T>>;
}

/** The part of a record every store decides on. */
export interface RecordState {
  status: 'inProgress' | 'completed';
  /** Epoch ms: lock expiry for inProgress, record expiry for completed. */
  expiresAt: number;
  /** Epoch ms the run began; absent on records written before it was kept (then nothing is settled by it). */
  startedAt?: number;
}

/** Pure: what an existing record means for a delivery observed at `observedAt`. */
export function judgeRecord(
  record: RecordState | undefined,
  now: number,
  observedAt: number,
): 'free' | 'inProgress' | 'completed' {
  if (record === undefined || record.expiresAt <= now) return 'free';
  if (record.status === 'inProgress') return 'inProgress';
  return (record.startedAt ?? Number.NEGATIVE_INFINITY) >= observedAt ? 'completed' : 'free';
}

interface MemoryRow extends RecordState {
  startedAt: number;
  token: symbol;
}

/** Per-process store: deduplicates within one CLI run or one warm function instance. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly rows = new Map<string, MemoryRow>();

  constructor(private readonly now: () => number = Date.now) {}

  async run<T>(key: string, options: RunOptions, work: () => Promise<Settled<T>>): Promise<RunResult<T>> {
    const state = judgeRecord(this.rows.get(key), this.now(), options.observedAt);
    if (state !== 'free') return { kind: 'duplicate', state };
    const token = Symbol(key);
    const startedAt = this.now();
    this.rows.set(key, {
      status: 'inProgress',
      expiresAt: startedAt + options.lockSeconds * 1000,
      startedAt,
      token,
    });
    const ours = () => this.rows.get(key)?.token === token;
    let settled: Settled<T>;
    try {
      settled = await work();
    } catch (error) {
      if (ours()) this.rows.delete(key);
      throw error;
    }
    if (!ours()) return { kind: 'ran', value: settled.value };
    if (settled.keep)
      this.rows.set(key, {
        status: 'completed',
        expiresAt: this.now() + options.ttlSeconds * 1000,
        startedAt,
        token,
      });
    else this.rows.delete(key);
    return { kind: 'ran', value: settled.value };
  }

  /** For tests and the demo: how many keys are held or completed. */
  get size(): number {
    return this.rows.size;
  }
}

// ------------------------------------------------------------------------------------------------
// the file store (CLI)
// ------------------------------------------------------------------------------------------------

/** Who holds a lock: enough to tell, on this host, whether that process still runs. */
export interface LockOwner {
  pid: number;
  /** The process's start (Linux: /proc/<pid>/stat starttime), so a reused pid is not mistaken for it. */
  start?: string;
  host: string;
  token: string;
}

interface FileRecord extends RecordState {
  owner?: LockOwner;
}
type FileEntry = FileRecord | { status: 'released' };

/** Linux: field 22 of /proc/<pid>/stat (clock ticks after boot); undefined elsewhere or when gone. */
function processStart(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process that took a lock still runs (a lock from another host counts as alive). */
function ownerAlive(owner: LockOwner, host = hostname()): boolean {
  if (owner.host !== host) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (owner.start === undefined) return true;
  // Unreadable (another user's process under hidepid): assume it runs; the lock still expires.
  const start = processStart(owner.pid);
  return start === undefined || start === owner.start;
}

const KEY_NAME = /^[A-Za-z0-9_-]{1,128}$/;
const VERSION_FILE = /^(\d{1,15})\.json$/;
const MAX_CLAIM_ROUNDS = 32;

/**
 * A folder of small files (`ATREST_IDEMPOTENCY_FILE`), for CLI runs that remember across
 * invocations and may run at the same time (two sweeps, a sweep and a replay).
 *
 * Layout: `<folder>/<key>/<n>.json`, one file per version of a key's record; the highest `n` is the
 * record. Every change is a new file made complete under a temporary name and then hard-linked to
 * its final name: `link` fails when the name exists, so of two processes that saw version `n`, only
 * one can create `n + 1` — the claim is a compare-and-set, O(1) per record, no whole-file rewrite.
 * Completion rewrites the holder's own version (write + rename); a release writes a `released`
 * version rather than deleting it (so version numbers never go back and a slow process cannot
 * re-create an old one: after linking, a claimer checks that its version is still the highest).
 *
 * A lock names its owner (pid, process start, host). A lock whose process is dead — a sweep killed
 * mid-write — is taken over at once by the next run, which retries that work; a lock from another
 * host, or whose owner still runs, holds until it expires.
 */
export class FileIdempotencyStore implements IdempotencyStore {
  private readonly me: Omit<LockOwner, 'token'>;

  constructor(
    private readonly root: string,
    private readonly now: () => number = Date.now,
  ) {
    let isDir = false;
    try {
      isDir = statSync(root).isDirectory();
      if (!isDir)
        throw new ConfigError([
          `ATREST_IDEMPOTENCY_FILE: ${root} is a file (an older atrest's store); the store is now a folder at that path: move or delete the file`,
        ]);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
    }
    if (!isDir) mkdirSync(root, { recursive: true });
    const start = processStart('self');
    this.me = { pid: process.pid, host: hostname(), ...(start !== undefined ? { start } : {}) };
  }

  async run<T>(key: string, options: RunOptions, work: () => Promise<Settled<T>>): Promise<RunResult<T>> {
    if (!KEY_NAME.test(key)) throw new TypeError(`idempotency key ${JSON.stringify(key)} is not a file name`);
    const dir = join(this.root, key);
    let claim: { version: number; owner: LockOwner; startedAt: number } | RunResult<never>;
    try {
      claim = this.claim(dir, options);
    } catch (error) {
      throw storeError('claim', error);
    }
    if ('kind' in claim) return claim;
    const { version, owner, startedAt } = claim;
    let settled: Settled<T>;
    try {
      settled = await work();
    } catch (error) {
      try {
        this.put(dir, version, { status: 'released' }, owner.token);
      } catch {
        // The work's error is the one to report; the lock frees itself when this process ends.
      }
      throw error;
    }
    const record: FileEntry = settled.keep
      ? { status: 'completed', expiresAt: this.now() + options.ttlSeconds * 1000, startedAt, owner }
      : { status: 'released' };
    try {
      this.put(dir, version, record, owner.token);
    } catch (error) {
      return {
        kind: 'ran',
        value: settled.value,
        storeError: storeError(settled.keep ? 'complete' : 'release', error),
      };
    }
    return { kind: 'ran', value: settled.value };
  }

  private claim(dir: string, options: RunOptions) {
    mkdirSync(dir, { recursive: true });
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      const current = this.versions(dir).at(-1);
      if (current !== undefined) {
        const entry = this.read(dir, current);
        if (entry === undefined) continue;
        if (
          entry.status !== 'released' &&
          !(entry.status === 'inProgress' && entry.owner && !ownerAlive(entry.owner))
        ) {
          const state = judgeRecord(entry, this.now(), options.observedAt);
          if (state !== 'free') return { kind: 'duplicate' as const, state };
        }
      }
      const version = (current ?? 0) + 1;
      const owner: LockOwner = { ...this.me, token: randomUUID() };
      const startedAt = this.now();
      const record: FileEntry = {
        status: 'inProgress',
        expiresAt: startedAt + options.lockSeconds * 1000,
        startedAt,
        owner,
      };
      if (!this.create(dir, version, record, owner.token)) continue;
      const after = this.versions(dir);
      if (after.at(-1) !== version) {
        // We re-created a version someone had already moved past (we read an old view): back off.
        this.remove(dir, version);
        continue;
      }
      for (const old of after) if (old < version) this.remove(dir, old);
      return { version, owner, startedAt };
    }
    throw new IdempotencyStoreError(
      'claim',
      `idempotency key ${dir}: lost the claim ${MAX_CLAIM_ROUNDS} times in a row`,
      {
        code: 'ClaimContention',
      },
    );
  }

  private versions(dir: string): number[] {
    return readdirSync(dir)
      .map((name) => VERSION_FILE.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** undefined: the version vanished under us (a claimer cleaned it up); a damaged file reads as released. */
  private read(dir: string, version: number): FileEntry | undefined {
    let text: string;
    try {
      text = readFileSync(join(dir, `${version}.json`), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const entry = JSON.parse(text) as FileEntry;
      if (entry.status === 'released' || entry.status === 'inProgress' || entry.status === 'completed')
        return entry;
    } catch {
      // fall through
    }
    return { status: 'released' };
  }

  /** Creates version `n` complete or not at all; false when it already exists. */
  private create(dir: string, version: number, record: FileEntry, token: string): boolean {
    const tmp = join(dir, `.tmp-${token}`);
    writeFileSync(tmp, JSON.stringify(record));
    try {
      linkSync(tmp, join(dir, `${version}.json`));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      unlinkSync(tmp);
    }
  }

  /** Replaces our own version's content atomically. */
  private put(dir: string, version: number, record: FileEntry, token: string): void {
    const tmp = join(dir, `.tmp-${token}`);
    writeFileSync(tmp, JSON.stringify(record));
    renameSync(tmp, join(dir, `${version}.json`));
  }

  private remove(dir: string, version: number): void {
    try {
      unlinkSync(join(dir, `${version}.json`));
    } catch {
      // Already gone (another claimer cleaned up): nothing to do.
    }
  }
}
