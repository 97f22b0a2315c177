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
import {
  ConfigError,
  ConflictError,
  DeniedError,
  InvalidError,
  type RemediationError,
  storeError,
  ThrottledError,
  TransientError,
  UnexpectedError,
} from '#core/errors';
import {
  type IdempotencyStore,
  judgeRecord,
  type RunOptions,
  type RunResult,
  type Settled,
} from '#core/idempotency';
import { backoffDelay, type RetryPolicy } from '#core/retry';
import { formatIssues } from '#core/validation';
import type { AlicloudCredentials } from './clients.ts';
import { boundedAgent } from './http.ts';

export interface TablestoreStoreOptions {
  /** `https://<instance>.<region>.ots.aliyuncs.com`, its VPC address, or the emulator's URL. */
  endpoint: string;
  instanceName: string;
  tableName: string;
  /** Read once per `run`: Function Compute's STS credentials rotate. An STS token is sent when present. */
  credentials: () => AlicloudCredentials;
  /** Tries of one Tablestore call (throttling, 5xx, network), the first included. Default 4. */
  maxAttempts?: number;
  /** Socket timeout of one request in ms. Default 10000. */
  timeoutMs?: number;
  /** Clock for `expiresAt`. Default Date.now. */
  now?: () => number;
  /** Backoff sleep. Default setTimeout; tests pass `async () => {}`. */
  sleep?: (ms: number) => Promise<void>;
  /** Uniform [0, 1) for full jitter. Default Math.random. */
  random?: () => number;
}

/** The slice of the untyped `tablestore` SDK this store uses. */
interface Int64 {
  toNumber(): number;
}
interface SdkCell {
  columnName: string;
  columnValue: unknown;
}
interface SdkClient {
  putRow(params: object): Promise<unknown>;
  getRow(params: object): Promise<{ row?: { primaryKey?: unknown[]; attributes?: SdkCell[] } }>;
  updateRow(params: object): Promise<unknown>;
  deleteRow(params: object): Promise<unknown>;
}
interface TablestoreSdk {
  Client: new (config: Record<string, unknown>) => SdkClient;
  Condition: new (rowExistence: number, columnCondition: unknown) => unknown;
  SingleColumnCondition: new (
    name: string,
    value: unknown,
    comparator: number,
    passIfMissing: boolean,
    latestVersionOnly: boolean,
  ) => unknown;
  RowExistenceExpectation: { IGNORE: number; EXPECT_EXIST: number; EXPECT_NOT_EXIST: number };
  ComparatorType: { EQUAL: number };
  Long: { fromNumber(n: number): Int64 };
}

let sdk: Promise<TablestoreSdk> | undefined;

/** Loads the SDK once, on first use, so functions that never touch the store do not pay for it. */
function loadSdk(): Promise<TablestoreSdk> {
  sdk ??=
    // @ts-expect-error the tablestore package ships no type declarations; TablestoreSdk above types what we use.
    (import('tablestore') as Promise<{ default?: TablestoreSdk }>).then(
      (mod) => (mod.default ?? mod) as TablestoreSdk,
      (error: unknown) => {
        sdk = undefined;
        throw error;
      },
    );
  return sdk;
}

type Status = 'inProgress' | 'completed';
interface LockRow {
  status: Status;
  expiresAt: number;
  startedAt?: number;
  owner?: string;
}

const CONDITION_FAILED = 'OTSConditionCheckFail';
/** Put → get → take over can lose to others a few times in a row; after that, report a conflict. */
const MAX_ACQUIRE_ROUNDS = 5;

export class TablestoreIdempotencyStore implements IdempotencyStore {
  private readonly policy: RetryPolicy;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: TablestoreStoreOptions) {
    this.policy = { maxAttempts: options.maxAttempts ?? 4, baseMs: 50, capMs: 1_000, reserveMs: 0 };
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
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
      if (await this.write('PutRow', () => ots.put(key, claim))) return { startedAt: now };
      const found = await this.call('GetRow', () => ots.get(key));
      // Released between our put and our get: the key is free again.
      if (found === undefined) continue;
      // An earlier try of our own put landed although its answer was lost.
      if (found.owner === owner) return { startedAt: found.startedAt ?? now };
      const state = judgeRecord(found, now, options.observedAt);
      if (state !== 'free') return { kind: 'duplicate', state };
      // Expired (a crashed holder, an old completion) or completed before this delivery was
      // observed: take it over unless someone else just did.
      if (await this.write('UpdateRow', () => ots.update(key, claim, { expiresAt: found.expiresAt })))
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
    await this.write('UpdateRow', () => ots.update(key, done, { owner }));
  }

  private async release(ots: Ots, key: string, owner: string): Promise<void> {
    await this.write('DeleteRow', () => ots.delete(key, owner));
  }

  /** A conditional write: true when applied, false when Tablestore answered OTSConditionCheckFail. */
  private async write(action: string, fn: () => Promise<unknown>): Promise<boolean> {
    try {
      await this.call(action, fn);
      return true;
    } catch (error) {
      if (error instanceof ConflictError && error.code === CONDITION_FAILED) return false;
      throw error;
    }
  }

  /** One call with full-jitter retry of throttling and transient errors; anything else is thrown typed. */
  private async call<V>(action: string, fn: () => Promise<V>): Promise<V> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (thrown) {
        const error = classifyOtsError(thrown, action);
        const retry = error instanceof ThrottledError || error instanceof TransientError;
        if (!retry || attempt >= this.policy.maxAttempts) throw error;
        await this.sleep(backoffDelay(attempt - 1, this.policy, this.random()));
      }
    }
  }

  private async connect(): Promise<Ots> {
    const ts = await loadSdk();
    const credentials = this.options.credentials();
    const client = new ts.Client({
      endpoint: this.options.endpoint,
      instancename: this.options.instanceName,
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.accessKeySecret,
      ...(credentials.securityToken ? { stsToken: credentials.securityToken } : {}),
      // This store owns retries. (The SDK keeps this as a process-wide setting; nothing else here uses it.)
      maxRetries: 0,
      // `timeout` is the SDK's idle timeout; the agent adds a deadline on the whole exchange and a
      // body cap (./http.ts boundedAgent).
      httpOptions: {
        timeout: this.options.timeoutMs ?? 10_000,
        agent: boundedAgent(this.options.endpoint.startsWith('https:') ? 'https' : 'http', {
          deadlineMs: this.options.timeoutMs ?? 10_000,
        }),
      },
    });
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

/**
 * The SDK's errors carry the HTTP status as a number in `code` and the raw protobuf
 * `Error{code, message}` bytes, decoded as UTF-8, in `message` (plus ` requestId:<id>`). We read the
 * service's code from those bytes: field 1 (tag 0x0a), a one-byte length, ASCII.
 */
export function classifyOtsError(thrown: unknown, action = 'Tablestore'): RemediationError {
  const e = (thrown ?? {}) as { code?: unknown; message?: unknown; headers?: Record<string, unknown> };
  const status = typeof e.code === 'number' ? e.code : undefined;
  const raw = typeof e.message === 'string' ? e.message : String(thrown);
  const header = e.headers?.['x-ots-requestid'] ?? e.headers?.['x-ots-request-id'];
  const requestId = typeof header === 'string' && header !== '' ? header : undefined;
  const decoded = decodeErrorBody(raw);
  const code =
    decoded?.code ??
    (typeof e.code === 'string' ? e.code : status !== undefined ? `HTTP${status}` : 'UnknownError');
  const text = decoded?.message ?? raw;
  const message = `${action}: ${code}${text ? `: ${text}` : ''}`;
  const context = {
    code,
    ...(requestId !== undefined ? { requestId } : {}),
    ...(status !== undefined ? { status } : {}),
  };
  const options = { cause: thrown };
  // Not an error to this store: `write` turns it into `false` (someone else holds or changed the row).
  if (code === CONDITION_FAILED) return new ConflictError(message, context, options);
  if (THROTTLED.has(code)) return new ThrottledError(message, context, options);
  if (TRANSIENT.has(code) || (status !== undefined && status >= 500))
    return new TransientError(message, context, options);
  if (DENIED.has(code)) return new DeniedError(message, context, options);
  if (INVALID.has(code)) return new InvalidError(message, context, options);
  return new UnexpectedError(message, context, options);
}

const THROTTLED = new Set([
  'OTSServerBusy',
  'OTSQuotaExhausted',
  'OTSNotEnoughCapacityUnit',
  'OTSCapacityUnitExhausted',
  'OTSOperationThrottled',
]);
const TRANSIENT = new Set([
  // Two writes to one row at the same instant: the loser may simply try again.
  'OTSRowOperationConflict',
  'OTSTimeout',
  'OTSInternalServerError',
  'OTSServerUnavailable',
  'OTSPartitionUnavailable',
  'OTSTableNotReady',
  'OTSRequestTimeout',
  'NetworkingError',
  'TimeoutError',
]);
const DENIED = new Set(['OTSAuthFailed', 'OTSNoPermissionAccess']);
const INVALID = new Set([
  'OTSParameterInvalid',
  'OTSObjectNotExist',
  'OTSRequestBodyTooLarge',
  'OTSMethodNotAllowed',
]);

function decodeErrorBody(raw: string): { code: string; message?: string } | undefined {
  if (raw.charCodeAt(0) !== 0x0a) return undefined;
  const length = raw.charCodeAt(1);
  if (length >= 0x80) return undefined;
  const code = raw.slice(2, 2 + length);
  if (!/^[A-Za-z][\w.]*$/.test(code)) return undefined;
  let rest = raw.slice(2 + length);
  const suffix = rest.lastIndexOf(' requestId:');
  if (suffix >= 0) rest = rest.slice(0, suffix);
  if (rest.charCodeAt(0) !== 0x12) return { code };
  // Field 2's varint length: its high-bit bytes did not survive UTF-8 decoding, only the last byte is intact.
  let i = 1;
  while (i < rest.length && (rest.charCodeAt(i) === 0xfffd || rest.charCodeAt(i) >= 0x80)) i++;
  return { code, message: rest.slice(i + 1) };
}

const ENV_NAMES = ['ATREST_OTS_ENDPOINT', 'ATREST_OTS_INSTANCE', 'ATREST_OTS_TABLE'] as const;

function isHttpUrl(value: string): boolean {
  try {
    return /^https?:$/.test(new URL(value).protocol);
  } catch {
    return false;
  }
}

const StoreEnv = z.object({
  ATREST_OTS_ENDPOINT: z.string().check(z.refine(isHttpUrl, 'must be an http:// or https:// URL')),
  /** Tablestore instance names: 3–16 letters, digits or hyphens, starting with a letter. */
  ATREST_OTS_INSTANCE: z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9-]{1,14}[A-Za-z0-9]$/)),
  /** Table names: letters, digits and underscores, not starting with a digit. */
  ATREST_OTS_TABLE: z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]{0,254}$/)),
});

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
  const parsed = StoreEnv.safeParse(env);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues));
  return new TablestoreIdempotencyStore({
    endpoint: parsed.data.ATREST_OTS_ENDPOINT,
    instanceName: parsed.data.ATREST_OTS_INSTANCE,
    tableName: parsed.data.ATREST_OTS_TABLE,
    credentials,
  });
}
