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
import { ConflictError } from '#core/errors';
import { decideTake, type RestoreCounter, type RestoreTake, WINDOW_MS, windowOf } from '#core/restores';
import type { AlicloudCredentials } from './clients.ts';
import {
  CONDITION_FAILED,
  connectTablestore,
  OtsCalls,
  type OtsRetryOptions,
  type SdkCell,
  type TablestoreClientOptions,
} from './tablestore-client.ts';

const RESTORE_KEY_PREFIX = 'restores#';

export interface TablestoreRestoreCounterOptions extends TablestoreClientOptions, OtsRetryOptions {
  tableName: string;
}

const MAX_ROUNDS = 5;

export class TablestoreRestoreCounter implements RestoreCounter {
  private readonly calls: OtsCalls;

  constructor(private readonly options: TablestoreRestoreCounterOptions) {
    this.calls = new OtsCalls(options);
  }

  async take(key: string, callId: string, limit: number, nowMs: number): Promise<RestoreTake> {
    const { ts, client } = await connectTablestore(this.options);
    const window = windowOf(nowMs);
    const primaryKey = [{ key: `${RESTORE_KEY_PREFIX}${key}#${window}` }];
    const expiresAt = ts.Long.fromNumber((window + 2) * WINDOW_MS);
    const table = this.options.tableName;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const { row } = await this.calls.call('GetRow', () =>
        client.getRow({ tableName: table, primaryKey, maxVersions: 1 }),
      );
      const stored = row?.primaryKey?.length ? callsOf(row.attributes ?? []) : undefined;
      const { add, ...take } = decideTake(stored?.calls ?? [], callId, limit);
      if (!add) return take;
      const columns = [{ calls: JSON.stringify([...(stored?.calls ?? []), callId]) }, { expiresAt }];
      const written =
        stored === undefined
          ? await this.calls.write('PutRow', () =>
              client.putRow({
                tableName: table,
                primaryKey,
                attributeColumns: columns,
                condition: new ts.Condition(ts.RowExistenceExpectation.EXPECT_NOT_EXIST, null),
              }),
            )
          : await this.calls.write('UpdateRow', () =>
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
}

/** The calls counted in a row, and the stored text (the next write's condition). */
function callsOf(cells: readonly SdkCell[]): {
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
