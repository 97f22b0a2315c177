/**
 * Resume after an interruption: an org-wide sweep or report appends one line per finished
 * (function, account, region) to a small file, so a run started again with the same arguments
 * skips what is done and still ends with totals over everything. The file is keyed by a hash of
 * what decides the work (verb, functions, accounts, regions, dry run, config), lives in
 * `$ATREST_CHECKPOINT_DIR` (default `.atrest/checkpoints`), is removed when the run completes, and
 * is ignored once older than a day (the state it vouches for has moved on by then).
 *
 * Each record is one `appendFileSync` of one line: a process killed mid-write leaves at most a
 * torn last line, which is skipped; the unit it described is simply done again.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_CHECKPOINT_DIR = join('.atrest', 'checkpoints');
export const CHECKPOINT_MAX_AGE_MS = 24 * 3600 * 1000;

export const unitKey = (fn: string, account: string, region: string): string => `${fn}|${account}|${region}`;

export class Checkpoint<T> {
  private readonly finished = new Map<string, T>();

  private constructor(
    readonly path: string,
    private readonly now: () => number,
  ) {}

  /** Opens (or starts) the checkpoint of this run; `key` is everything that decides the work. */
  static open<T>(dir: string, verb: string, key: unknown, now: () => number = Date.now): Checkpoint<T> {
    const hash = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16);
    mkdirSync(dir, { recursive: true });
    const checkpoint = new Checkpoint<T>(join(dir, `${verb}-${hash}.ndjson`), now);
    checkpoint.load();
    return checkpoint;
  }

  /** Units finished by an earlier, interrupted run. */
  get resumed(): number {
    return this.finished.size;
  }

  done(unit: string): T | undefined {
    return this.finished.get(unit);
  }

  record(unit: string, data: T): void {
    this.finished.set(unit, data);
    appendFileSync(this.path, `${JSON.stringify({ unit, at: new Date(this.now()).toISOString(), data })}\n`);
  }

  /** The run completed: the next run starts afresh. */
  complete(): void {
    rmSync(this.path, { force: true });
  }

  private load(): void {
    let text: string;
    try {
      if (this.now() - statSync(this.path).mtimeMs > CHECKPOINT_MAX_AGE_MS) {
        rmSync(this.path, { force: true });
        return;
      }
      text = readFileSync(this.path, 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const record = JSON.parse(line) as { unit?: unknown; data?: T };
        if (typeof record.unit === 'string' && record.data !== undefined)
          this.finished.set(record.unit, record.data);
      } catch {
        // A torn last line from a killed process: that unit is done again.
      }
    }
  }
}
