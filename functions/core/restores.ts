/**
 * The restore counter: how often a resource's encryption was restored after a tamper event, per
 * clock hour. It keeps a fight between two automations (one strips the key, atrest restores it, …)
 * from draining the API quota: past `maxRestoresPerHour` the engine writes nothing more and the
 * event ends `failed` with `EnforcementLoop`, which alarms like any failure.
 *
 * One port, several adapters, like the idempotency store: memory and file here (CLI, tests, a
 * warm instance without a table), DynamoDB in functions/aws/restores.ts (same table as
 * idempotency) and Tablestore in functions/alicloud/restores.ts (same instance and table).
 *
 * What is counted is distinct tamper calls (their CloudTrail/ActionTrail ids), not attempts: a
 * platform retry, a re-queue after ACK's 409 or a redelivery of one tamper never uses up the cap;
 * only another strip does.
 *
 * Windows are fixed clock hours (UTC): a counter row per resource and hour, so every adapter can
 * count with one atomic or conditional write and old rows simply expire. The price: around the
 * turn of an hour a resource can be restored up to twice the cap within minutes. Still bounded.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export const WINDOW_MS = 3_600_000;

/** The counting window (epoch hour) a moment falls in. */
export const windowOf = (nowMs: number): number => Math.floor(nowMs / WINDOW_MS);

export interface RestoreKeyParts {
  functionId: string;
  account: string;
  region: string;
  resource: string;
}

/**
 * Per resource, not per desired key or event: every restore of one resource counts against one
 * cap, whoever strips it and however. 64 hex chars; parts JSON-encoded so they never run together.
 */
export function restoreKey(parts: RestoreKeyParts): string {
  const ordered = ['restores', parts.functionId, parts.account, parts.region, parts.resource];
  return createHash('sha256').update(JSON.stringify(ordered)).digest('hex');
}

export interface RestoreTake {
  /** true: this restore is counted and may be written. false: the cap is reached; write nothing. */
  allowed: boolean;
  /** Tampers counted in this window, this one included when allowed. */
  count: number;
}

export interface RestoreCounter {
  /**
   * Counts the restore of tamper `callId` on resource `key` in the window of `nowMs`, unless
   * `limit` other tampers are already counted there. A tamper already counted is allowed again
   * without counting twice. Atomic among concurrent callers of one backend. Throws when the backend
   * fails (the engine then reports `failed` with the backend's code and writes nothing).
   */
  take(key: string, callId: string, limit: number, nowMs: number): Promise<RestoreTake>;
}

/** Pure: the decision every adapter makes on the calls already counted in this window. */
export function decideTake(
  counted: readonly string[],
  callId: string,
  limit: number,
): RestoreTake & { add: boolean } {
  if (counted.includes(callId)) return { allowed: true, count: counted.length, add: false };
  if (counted.length >= limit) return { allowed: false, count: counted.length, add: false };
  return { allowed: true, count: counted.length + 1, add: true };
}

interface Row {
  window: number;
  calls: string[];
}

/** Shared logic for counters that read and write a whole map synchronously (so a take is atomic in-process). */
abstract class LocalCounter implements RestoreCounter {
  protected abstract load(): Map<string, Row>;
  protected abstract save(rows: Map<string, Row>): void;

  async take(key: string, callId: string, limit: number, nowMs: number): Promise<RestoreTake> {
    const window = windowOf(nowMs);
    const rows = this.load();
    const row = rows.get(key);
    const counted = row?.window === window ? row.calls : [];
    const { add, ...take } = decideTake(counted, callId, limit);
    if (!add) return take;
    rows.set(key, { window, calls: [...counted, callId] });
    // Rows of past windows are dead weight.
    for (const [k, r] of rows) if (r.window < window) rows.delete(k);
    this.save(rows);
    return take;
  }
}

/** Per process: a CLI run, a test, or a warm function instance without a shared table. */
export class MemoryRestoreCounter extends LocalCounter {
  private readonly rows = new Map<string, Row>();
  protected load(): Map<string, Row> {
    return this.rows;
  }
  protected save(): void {}
}

/** A JSON file, for CLI runs that should remember across invocations. Single writer, like the file store. */
export class FileRestoreCounter extends LocalCounter {
  constructor(private readonly path: string) {
    super();
  }

  protected load(): Map<string, Row> {
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as Record<string, Row>;
      return new Map(
        Object.entries(parsed).filter(
          ([, r]) =>
            Number.isInteger(r?.window) &&
            Array.isArray(r?.calls) &&
            r.calls.every((c) => typeof c === 'string'),
        ),
      );
    } catch {
      return new Map();
    }
  }

  protected save(rows: Map<string, Row>): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(rows)));
    renameSync(tmp, this.path);
  }
}

/** The CLI's counter: beside `$ATREST_IDEMPOTENCY_FILE` when set (`<file>.restores`), else per process. */
export function localRestoreCounter(env: Record<string, string | undefined>): RestoreCounter {
  const file = env.ATREST_IDEMPOTENCY_FILE;
  return file ? new FileRestoreCounter(`${file}.restores`) : new MemoryRestoreCounter();
}
