/**
 * The Alibaba Cloud idempotency store: one Tablestore (OTS) row per idempotency key, claimed with
 * conditional writes so that concurrent Function Compute instances run a key's work at most once.
 *
 * Table: primary key `key` (STRING); columns `status` ('inProgress' | 'completed'), `expiresAt`
 * (INTEGER, epoch ms), `startedAt` (INTEGER, epoch ms the run began) and `owner` (STRING, a random
 * token per run). The owner token lets a run recognise its own row after a retried write that did
 * land, and keeps a run whose lock expired from completing or deleting the row of the run that
 * took it over. The lock lasts `lockSeconds` (the function's configured timeout), so a killed
 * invocation's key is free again when Function Compute retries it.
 *
 * acquire  = PutRow EXPECT_NOT_EXIST; on OTSConditionCheckFail GetRow: a live lock, or a completed
 *            row that began at or after the delivery was observed → duplicate; an expired row, or
 *            a completed one that began before it (new work) → UpdateRow EXPECT_EXIST +
 *            `expiresAt == <value read>` (of two racers that read the same row, only one can match).
 * complete = UpdateRow status=completed, expiresAt=now+ttl, startedAt (EXPECT_EXIST + owner == ours).
 * release  = DeleteRow (EXPECT_EXIST + owner == ours).
 * A failed complete or release comes back as `storeError` beside the work's value (the engine
 * reports "applied, not recorded" or a failure naming OTS's code); a failed claim throws.
 *
 * The `tablestore` SDK (5.6.5) is CommonJS, ~776 KiB bundled, and crashes as an ESM bundle
 * (undeclared loop variables under strict mode): it is imported on first use only.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod/mini';
import { ConfigError, ConflictError, storeError, UnexpectedError } from '#core/errors';
import {
  type IdempotencyStore,
  judgeRecord,
  type RunOptions,
  type RunResult,
  type Settled,
} from '#core/idempotency';
import { once } from '#core/once';
import { formatIssues } from '#core/validation';
import type { AlicloudCredentials } from './clients.ts';
import {
  CONDITION_FAILED,
  connectTablestore,
  type Int64,
  OtsCalls,
  type OtsRetryOptions,
  type SdkCell,
  type SdkClient,
  type TablestoreClientOptions,
  type TablestoreSdk,
} from './tablestore-client.ts';

export { classifyOtsError } from './tablestore-client.ts';

export interface TablestoreStoreOptions extends TablestoreClientOptions, OtsRetryOptions {
  tableName: string;
  /** Clock for `expiresAt`. Default Date.now. */
  now?: () => number;
}

type Status = 'inProgress' | 'completed';
interface LockRow {
  status: Status;
  expiresAt: number;
  startedAt?: number;
  owner?: string;
}

/** Put → get → take over can lose to others a few times in a row; after that, report a conflict. */
const MAX_ACQUIRE_ROUNDS = 5;

export class TablestoreIdempotencyStore implements IdempotencyStore {
  private readonly now: () => number;
  private readonly calls: OtsCalls;

  constructor(private readonly options: TablestoreStoreOptions) {
    this.now = options.now ?? Date.now;
    this.calls = new OtsCalls(options);
  }

  async run<T>(key: string, options: RunOptions, work: () => Promise<Settled<T>>): Promise<RunResult<T>> {
    let ots: Ots;
    const owner = randomUUID();
    let claim: { startedAt: number } | Extract<RunResult<never>, { kind: 'duplicate' }>;
    try {
      ots = await this.connect();
      claim = await this.acquire(ots, key, options, owner);
    } catch (error) {
      throw storeError('claim', error);
    }
    if ('kind' in claim) return claim;
    let settled: Settled<T>;
    try {
      settled = await work();
    } catch (error) {
      // The work's own error is the one to report; an unreleased lock still frees itself at expiry.
      await this.release(ots, key, owner).catch(() => undefined);
      throw error;
    }
    try {
      if (settled.keep) await this.complete(ots, key, options.ttlSeconds * 1000, claim.startedAt, owner);
      else await this.release(ots, key, owner);
    } catch (error) {
      // Not recorded: free the key if we can, so a later delivery reads (compliant) instead of
      // finding it in progress until the lock ends.
      if (settled.keep) await this.release(ots, key, owner).catch(() => undefined);
      return {
        kind: 'ran',
        value: settled.value,
        storeError: storeError(settled.keep ? 'complete' : 'release', error),
      };
    }
    return { kind: 'ran', value: settled.value };
  }

  /** The claim's start when this run now holds the key; else the duplicate answer. */
  private async acquire(
    ots: Ots,
    key: string,
    options: RunOptions,
    owner: string,
  ): Promise<{ startedAt: number } | Extract<RunResult<never>, { kind: 'duplicate' }>> {
    const lockMs = options.lockSeconds * 1000;
    for (let round = 0; round < MAX_ACQUIRE_ROUNDS; round++) {
      const now = this.now();
      const claim = { status: 'inProgress' as const, expiresAt: now + lockMs, startedAt: now, owner };
      if (await this.calls.write('PutRow', () => ots.put(key, claim))) return { startedAt: now };
      const found = await this.calls.call('GetRow', () => ots.get(key));
      // Released between our put and our get: the key is free again.
      if (found === undefined) continue;
      // An earlier try of our own put landed although its answer was lost.
      if (found.owner === owner) return { startedAt: found.startedAt ?? now };
      const state = judgeRecord(found, now, options.observedAt);
      if (state !== 'free') return { kind: 'duplicate', state };
      // Expired (a crashed holder, an old completion) or completed before this delivery was
      // observed: take it over unless someone else just did.
      if (await this.calls.write('UpdateRow', () => ots.update(key, claim, { expiresAt: found.expiresAt })))
        return { startedAt: now };
    }
    throw new ConflictError(`idempotency key ${key}: lost the claim ${MAX_ACQUIRE_ROUNDS} times in a row`, {
      code: CONDITION_FAILED,
    });
  }

  private async complete(
    ots: Ots,
    key: string,
    ttlMs: number,
    startedAt: number,
    owner: string,
  ): Promise<void> {
    const done = { status: 'completed' as const, expiresAt: this.now() + ttlMs, startedAt };
    // A failed owner check means our lock expired and another run took the key: leave its row alone.
    await this.calls.write('UpdateRow', () => ots.update(key, done, { owner }));
  }

  private async release(ots: Ots, key: string, owner: string): Promise<void> {
    await this.calls.write('DeleteRow', () => ots.delete(key, owner));
  }

  private async connect(): Promise<Ots> {
    const { ts, client } = await connectTablestore(this.options);
    return new Ots(ts, client, this.options.tableName);
  }
}

/** Row encoding: what the SDK wants for our three columns, and back. */
class Ots {
  constructor(
    private readonly ts: TablestoreSdk,
    private readonly client: SdkClient,
    private readonly table: string,
  ) {}

  put(key: string, row: LockRow): Promise<unknown> {
    return this.client.putRow({
      tableName: this.table,
      primaryKey: [{ key }],
      attributeColumns: this.columns(row),
      condition: new this.ts.Condition(this.ts.RowExistenceExpectation.EXPECT_NOT_EXIST, null),
    });
  }

  async get(key: string): Promise<LockRow | undefined> {
    const { row } = await this.client.getRow({
      tableName: this.table,
      primaryKey: [{ key }],
      maxVersions: 1,
    });
    if (!row?.primaryKey?.length) return undefined;
    return parseRecord(key, row.attributes ?? []);
  }

  /** UpdateRow that only applies while the row exists and `column` still has the given value. */
  update(key: string, row: LockRow, expect: { expiresAt: number } | { owner: string }): Promise<unknown> {
    return this.client.updateRow({
      tableName: this.table,
      primaryKey: [{ key }],
      updateOfAttributeColumns: [{ PUT: this.columns(row) }],
      condition: this.expect(expect),
    });
  }

  delete(key: string, owner: string): Promise<unknown> {
    return this.client.deleteRow({
      tableName: this.table,
      primaryKey: [{ key }],
      condition: this.expect({ owner }),
    });
  }

  private columns(row: LockRow): Record<string, unknown>[] {
    // expiresAt must be an Int64: the SDK writes a plain JS number as a DOUBLE cell.
    const cells: Record<string, unknown>[] = [
      { status: row.status },
      { expiresAt: this.ts.Long.fromNumber(row.expiresAt) },
    ];
    if (row.startedAt !== undefined) cells.push({ startedAt: this.ts.Long.fromNumber(row.startedAt) });
    if (row.owner !== undefined) cells.push({ owner: row.owner });
    return cells;
  }

  private expect(expect: { expiresAt: number } | { owner: string }): unknown {
    const [name, value] =
      'expiresAt' in expect
        ? ['expiresAt', this.ts.Long.fromNumber(expect.expiresAt)]
        : ['owner', expect.owner];
    // passIfMissing=false: a row without the column never matches.
    const column = new this.ts.SingleColumnCondition(name, value, this.ts.ComparatorType.EQUAL, false, true);
    return new this.ts.Condition(this.ts.RowExistenceExpectation.EXPECT_EXIST, column);
  }
}

function parseRecord(key: string, cells: readonly SdkCell[]): LockRow {
  const byName = new Map(cells.map((c) => [c.columnName, c.columnValue]));
  const status = byName.get('status');
  const expiresAt = byName.get('expiresAt');
  const owner = byName.get('owner');
  const int = (cell: unknown) =>
    typeof cell === 'object' && cell !== null && 'toNumber' in cell ? (cell as Int64).toNumber() : undefined;
  const ms = int(expiresAt);
  const startedAt = int(byName.get('startedAt'));
  if ((status !== 'inProgress' && status !== 'completed') || ms === undefined)
    throw new UnexpectedError(
      `idempotency record ${key} is malformed (want status inProgress|completed and an INTEGER expiresAt)`,
      { code: 'MalformedRecord' },
    );
  return {
    status,
    expiresAt: ms,
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(typeof owner === 'string' ? { owner } : {}),
  };
}

const ENV_NAMES = ['ATREST_OTS_ENDPOINT', 'ATREST_OTS_INSTANCE', 'ATREST_OTS_TABLE'] as const;

function isHttpUrl(value: string): boolean {
  try {
    return /^https?:$/.test(new URL(value).protocol);
  } catch {
    return false;
  }
}

const StoreEnv = once(() =>
  z.object({
    ATREST_OTS_ENDPOINT: z.string().check(z.refine(isHttpUrl, 'must be an http:// or https:// URL')),
    /** Tablestore instance names: 3–16 letters, digits or hyphens, starting with a letter. */
    ATREST_OTS_INSTANCE: z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9-]{1,14}[A-Za-z0-9]$/)),
    /** Table names: letters, digits and underscores, not starting with a digit. */
    ATREST_OTS_TABLE: z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]{0,254}$/)),
  }),
);

/**
 * The Tablestore store when `ATREST_OTS_ENDPOINT`, `ATREST_OTS_INSTANCE` and `ATREST_OTS_TABLE` are
 * all set; undefined when none is (the caller falls back to its default store). A partial or
 * invalid set is a ConfigError naming each variable.
 */
export function storeFromEnv(
  env: Record<string, string | undefined>,
  credentials: () => AlicloudCredentials,
): IdempotencyStore | undefined {
  const set = ENV_NAMES.filter((name) => env[name] !== undefined && env[name] !== '');
  if (set.length === 0) return undefined;
  const missing = ENV_NAMES.filter((name) => !set.includes(name));
  if (missing.length > 0)
    throw new ConfigError(
      missing.map(
        (name) => `${name}: not set (set all of ${ENV_NAMES.join(', ')} for the Tablestore store, or none)`,
      ),
    );
  const parsed = StoreEnv().safeParse(env);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues));
  return new TablestoreIdempotencyStore({
    endpoint: parsed.data.ATREST_OTS_ENDPOINT,
    instanceName: parsed.data.ATREST_OTS_INSTANCE,
    tableName: parsed.data.ATREST_OTS_TABLE,
    credentials,
  });
}
