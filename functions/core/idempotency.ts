/**
 * Idempotency: the key, the store port, and the in-memory and file adapters (CLI and tests). The
 * deployed adapters live with their platform: Powertools + DynamoDB on AWS, Tablestore on Alibaba
 * Cloud. The key is the work, not the delivery: hash(function id, account, region, resource,
 * desired key[, revision]) — never the event id, so two events about one resource are one write.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface IdempotencyKeyParts {
  functionId: string;
  account: string;
  region: string;
  resource: string;
  /** The key (or setting) being applied: a new desired key is new work. */
  desired: string;
  /** Anything else that makes a delivery new work (e.g. the drifted key a ModifyDiskDefaultKMSKeyId event set). */
  revision?: string;
}

/** Stable, printable, 64 hex chars. Parts are JSON-encoded so `a|b` and `a` + `|b` never collide. */
export function idempotencyKey(parts: IdempotencyKeyParts): string {
  const ordered = [
    parts.functionId,
    parts.account,
    parts.region,
    parts.resource,
    parts.desired,
    parts.revision ?? '',
  ];
  return createHash('sha256').update(JSON.stringify(ordered)).digest('hex');
}

/** What the work returned, and whether its record should be kept (completed) or released. */
export interface Settled<T> {
  value: T;
  /** true: mark completed (later deliveries are `duplicate` until expiry). false: delete the lock so the next delivery retries. */
  keep: boolean;
}

export type RunResult<T> =
  | { kind: 'ran'; value: T }
  | { kind: 'duplicate'; state: 'inProgress' | 'completed' };

export interface IdempotencyStore {
  /**
   * Runs `work` at most once per key among concurrent and repeated calls. A held or completed key
   * returns `duplicate` without running. If `work` throws, the lock is released and the error passes.
   */
  run<T>(
    key: string,
    options: { ttlSeconds: number; lockSeconds: number },
    work: () => Promise<Settled<T>>,
  ): Promise<RunResult<T>>;
}

interface Row {
  status: 'inProgress' | 'completed';
  expiresAt: number;
}

/** Shared logic for stores that can read and write a whole row map synchronously. */
abstract class LocalStore implements IdempotencyStore {
  constructor(protected readonly now: () => number = Date.now) {}

  protected abstract load(): Map<string, Row>;
  protected abstract save(rows: Map<string, Row>): void;

  async run<T>(
    key: string,
    options: { ttlSeconds: number; lockSeconds: number },
    work: () => Promise<Settled<T>>,
  ): Promise<RunResult<T>> {
    const rows = this.load();
    const existing = rows.get(key);
    if (existing && existing.expiresAt > this.now()) return { kind: 'duplicate', state: existing.status };
    rows.set(key, { status: 'inProgress', expiresAt: this.now() + options.lockSeconds * 1000 });
    this.save(rows);
    let settled: Settled<T>;
    try {
      settled = await work();
    } catch (error) {
      this.release(key);
      throw error;
    }
    if (settled.keep) {
      const after = this.load();
      after.set(key, { status: 'completed', expiresAt: this.now() + options.ttlSeconds * 1000 });
      this.save(after);
    } else {
      this.release(key);
    }
    return { kind: 'ran', value: settled.value };
  }

  private release(key: string): void {
    const rows = this.load();
    rows.delete(key);
    this.save(rows);
  }
}

/** Per-process store: deduplicates within one CLI run or one warm function instance. */
export class MemoryIdempotencyStore extends LocalStore {
  private readonly rows = new Map<string, Row>();
  protected load(): Map<string, Row> {
    return this.rows;
  }
  protected save(): void {}
  /** For tests and the demo: how many keys are held or completed. */
  get size(): number {
    return this.rows.size;
  }
}

/**
 * A JSON file, for CLI runs that should remember across invocations (`ATREST_IDEMPOTENCY_FILE`).
 * Single-writer: one CLI process at a time; concurrent deployed functions use the cloud stores.
 */
export class FileIdempotencyStore extends LocalStore {
  constructor(
    private readonly path: string,
    now?: () => number,
  ) {
    super(now);
  }

  protected load(): Map<string, Row> {
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as Record<string, Row>;
      return new Map(Object.entries(parsed));
    } catch {
      return new Map();
    }
  }

  protected save(rows: Map<string, Row>): void {
    const now = this.now();
    const live = Object.fromEntries([...rows].filter(([, row]) => row.expiresAt > now));
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(live));
    renameSync(tmp, this.path);
  }
}
