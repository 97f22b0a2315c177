/**
 * Where a scheduled sweep stopped, so the next run resumes there instead of starting from the
 * top every day (a region with more resources than one invocation can cover would otherwise never
 * be covered past the first pages). A small port of its own, beside the idempotency store: the
 * adapters keep one record per (function, region) in the same table as the idempotency records,
 * under a key no idempotency record can have.
 */

export interface SweepCursorStore {
  /** The cursor the last run of this sweep stopped at, if it did not finish. */
  get(key: string): Promise<string | undefined>;
  /** Remember where to resume; `undefined` forgets it (the sweep reached the end). */
  set(key: string, cursor: string | undefined): Promise<void>;
}

/** How long a saved cursor is worth resuming from (listing tokens go stale; a daily schedule needs 1 day). */
export const CURSOR_TTL_SECONDS = 3 * 86_400;

/** The record key of one sweep: function and region (and account, for organization sweeps). */
export function sweepCursorKey(functionId: string, region: string, account?: string): string {
  return ['atrest-sweep-cursor', functionId, account ?? '-', region].join('#');
}

/** Per process: the CLI and tests. */
export class MemorySweepCursorStore implements SweepCursorStore {
  private readonly cursors = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.cursors.get(key);
  }

  async set(key: string, cursor: string | undefined): Promise<void> {
    if (cursor === undefined) this.cursors.delete(key);
    else this.cursors.set(key, cursor);
  }
}
