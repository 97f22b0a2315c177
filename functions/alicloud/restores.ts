/**
 * The restore counter (functions/core/restores.ts) on the idempotency store's Tablestore table:
 * one row per resource and clock hour, primary key `key = restores#<key>#<hour>`, columns
 * `calls` (STRING, a JSON array of the tamper calls restored) and `expiresAt` (INTEGER, epoch ms,
 * when the row is dead weight).
 *
 * Tablestore's UpdateRow has no conditional append, so a take is optimistic:
 *   GetRow → none:  PutRow EXPECT_NOT_EXIST calls=[id]
 *          → id counted already: allowed, no write (a retry or re-queue of the same tamper)
 *          → fewer than limit: UpdateRow EXPECT_EXIST + `calls == <value read>` → calls+[id]
 *          → limit reached: the cap (no write).
 * A failed condition (OTSConditionCheckFail) means a concurrent take won: read again, a few rounds.
 * The function's RAM policy already allows ots:GetRow/PutRow/UpdateRow on this table.
 */
import { ConflictError, ThrottledError, TransientError } from '#core/errors';
import { decideTake, type RestoreCounter, type RestoreTake, WINDOW_MS, windowOf } from '#core/restores';
import { backoffDelay, type RetryPolicy } from '#core/retry';
import type { AlicloudCredentials } from './clients.ts';
import { classifyOtsError } from './tablestore.ts';

export const RESTORE_KEY_PREFIX = 'restores#';

export interface TablestoreRestoreCounterOptions {
  endpoint: string;
  instanceName: string;
  tableName: string;
  credentials: () => AlicloudCredentials;
  /** Socket timeout of one request in ms. Default 10000. */
  timeoutMs?: number;
  /** Tries of one call (throttling, 5xx, network), the first included. Default 4. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

interface Int64 {
  toNumber(): number;
}
interface SdkClient {
  putRow(params: object): Promise<unknown>;
  getRow(params: object): Promise<{
    row?: { primaryKey?: unknown[]; attributes?: { columnName: string; columnValue: unknown }[] };
  }>;
  updateRow(params: object): Promise<unknown>;
}
interface Sdk {
  Client: new (config: Record<string, unknown>) => SdkClient;
  Condition: new (rowExistence: number, columnCondition: unknown) => unknown;
  SingleColumnCondition: new (
    name: string,
    value: unknown,
    comparator: number,
    passIfMissing: boolean,
    latestVersionOnly: boolean,
  ) => unknown;
  RowExistenceExpectation: { EXPECT_EXIST: number; EXPECT_NOT_EXIST: number };
  ComparatorType: { EQUAL: number };
  Long: { fromNumber(n: number): Int64 };
}

let sdk: Promise<Sdk> | undefined;

/** The `tablestore` SDK, on first use only (it is large and CommonJS; see functions/alicloud/tablestore.ts). */
function loadSdk(): Promise<Sdk> {
  sdk ??=
    // @ts-expect-error the tablestore package ships no type declarations; Sdk above types what we use.
    (import('tablestore') as Promise<{ default?: Sdk }>).then(
      (mod) => (mod.default ?? mod) as Sdk,
      (error: unknown) => {
        sdk = undefined;
        throw error;
      },
    );
  return sdk;
}

const MAX_ROUNDS = 5;
const CONDITION_FAILED = 'OTSConditionCheckFail';

export class TablestoreRestoreCounter implements RestoreCounter {
  private readonly policy: RetryPolicy;

  constructor(private readonly options: TablestoreRestoreCounterOptions) {
    this.policy = { maxAttempts: options.maxAttempts ?? 4, baseMs: 50, capMs: 1_000, reserveMs: 0 };
  }

  async take(key: string, callId: string, limit: number, nowMs: number): Promise<RestoreTake> {
    const ts = await loadSdk();
    const credentials = this.options.credentials();
    const client = new ts.Client({
      endpoint: this.options.endpoint,
      instancename: this.options.instanceName,
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.accessKeySecret,
      ...(credentials.securityToken ? { stsToken: credentials.securityToken } : {}),
      maxRetries: 0,
      httpOptions: { timeout: this.options.timeoutMs ?? 10_000 },
    });
    const window = windowOf(nowMs);
    const primaryKey = [{ key: `${RESTORE_KEY_PREFIX}${key}#${window}` }];
    const expiresAt = ts.Long.fromNumber((window + 2) * WINDOW_MS);
    const table = this.options.tableName;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const { row } = await this.call('GetRow', () =>
        client.getRow({ tableName: table, primaryKey, maxVersions: 1 }),
      );
      const stored = row?.primaryKey?.length ? callsOf(row.attributes ?? []) : undefined;
      const { add, ...take } = decideTake(stored?.calls ?? [], callId, limit);
      if (!add) return take;
      const columns = [{ calls: JSON.stringify([...(stored?.calls ?? []), callId]) }, { expiresAt }];
      const written =
        stored === undefined
          ? await this.write('PutRow', () =>
              client.putRow({
                tableName: table,
                primaryKey,
                attributeColumns: columns,
                condition: new ts.Condition(ts.RowExistenceExpectation.EXPECT_NOT_EXIST, null),
              }),
            )
          : await this.write('UpdateRow', () =>
              client.updateRow({
                tableName: table,
                primaryKey,
                updateOfAttributeColumns: [{ PUT: columns }],
                condition: new ts.Condition(
                  ts.RowExistenceExpectation.EXPECT_EXIST,
                  new ts.SingleColumnCondition('calls', stored.raw, ts.ComparatorType.EQUAL, false, true),
                ),
              }),
            );
      if (written) return take;
    }
    throw new ConflictError(`restore counter ${key}: lost the count ${MAX_ROUNDS} times in a row`, {
      code: CONDITION_FAILED,
    });
  }

  /** A conditional write: true when applied, false when a concurrent take changed the row first. */
  private async write(action: string, fn: () => Promise<unknown>): Promise<boolean> {
    try {
      await this.call(action, fn);
      return true;
    } catch (error) {
      if (error instanceof ConflictError && error.code === CONDITION_FAILED) return false;
      throw error;
    }
  }

  private async call<V>(action: string, fn: () => Promise<V>): Promise<V> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (thrown) {
        const error = classifyOtsError(thrown, action);
        const retry = error instanceof ThrottledError || error instanceof TransientError;
        if (!retry || attempt >= this.policy.maxAttempts) throw error;
        const delay = backoffDelay(attempt - 1, this.policy, (this.options.random ?? Math.random)());
        await (this.options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms))))(delay);
      }
    }
  }
}

/** The calls counted in a row, and the stored text (the next write's condition). */
function callsOf(cells: readonly { columnName: string; columnValue: unknown }[]): {
  raw: string;
  calls: string[];
} {
  const raw = cells.find((c) => c.columnName === 'calls')?.columnValue;
  if (typeof raw !== 'string') return { raw: '', calls: [] };
  try {
    const parsed: unknown = JSON.parse(raw);
    const calls = Array.isArray(parsed) ? parsed.filter((c): c is string => typeof c === 'string') : [];
    return { raw, calls };
  } catch {
    // Unreadable: counts as empty, and the conditional write still guards against a racing writer.
    return { raw, calls: [] };
  }
}

/**
 * The Tablestore counter when the idempotency store's variables are set (`ATREST_OTS_ENDPOINT`,
 * `ATREST_OTS_INSTANCE`, `ATREST_OTS_TABLE`; `storeFromEnv` validates them first), else undefined.
 */
export function restoresFromEnv(
  env: Record<string, string | undefined>,
  credentials: () => AlicloudCredentials,
): RestoreCounter | undefined {
  const {
    ATREST_OTS_ENDPOINT: endpoint,
    ATREST_OTS_INSTANCE: instanceName,
    ATREST_OTS_TABLE: tableName,
  } = env;
  if (!endpoint || !instanceName || !tableName) return undefined;
  return new TablestoreRestoreCounter({ endpoint, instanceName, tableName, credentials });
}
