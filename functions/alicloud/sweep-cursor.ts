/**
 * The sweep cursor (core/sweep-cursor.ts) in the Tablestore idempotency table: one row per
 * (function, region) under the primary key `atrest-sweep-cursor#…`, which no idempotency record
 * can have (those are hashes), with columns `cursor` and `expiresAt` (Int64 ms). GetRow / PutRow /
 * DeleteRow — the calls the function's role already has on that table.
 */
import { CURSOR_TTL_SECONDS, type SweepCursorStore } from '#core/sweep-cursor';
import type { AlicloudCredentials } from './clients.ts';
import { boundedAgent } from './http.ts';

interface Int64 {
  toNumber(): number;
}
interface Client {
  getRow(params: object): Promise<{
    row?: { primaryKey?: unknown[]; attributes?: { columnName: string; columnValue: unknown }[] };
  }>;
  putRow(params: object): Promise<unknown>;
  deleteRow(params: object): Promise<unknown>;
}
interface Sdk {
  Client: new (config: Record<string, unknown>) => Client;
  Condition: new (rowExistence: number, columnCondition: unknown) => unknown;
  RowExistenceExpectation: { IGNORE: number };
  Long: { fromNumber(n: number): Int64 };
}

export interface TablestoreSweepCursorOptions {
  endpoint: string;
  instanceName: string;
  tableName: string;
  credentials: () => AlicloudCredentials;
  /** Socket timeout of one request. Default 5 000 ms. */
  timeoutMs?: number;
  now?: () => number;
}

export class TablestoreSweepCursorStore implements SweepCursorStore {
  constructor(private readonly options: TablestoreSweepCursorOptions) {}

  async get(key: string): Promise<string | undefined> {
    const { row } = await (await this.client()).client.getRow({
      tableName: this.options.tableName,
      primaryKey: [{ key }],
      maxVersions: 1,
    });
    if (!row?.primaryKey?.length) return undefined;
    const cells = new Map((row.attributes ?? []).map((c) => [c.columnName, c.columnValue]));
    const cursor = cells.get('cursor');
    const expiresAt = cells.get('expiresAt');
    const ms =
      typeof expiresAt === 'object' && expiresAt !== null && 'toNumber' in expiresAt
        ? (expiresAt as Int64).toNumber()
        : 0;
    return typeof cursor === 'string' && ms > this.now() ? cursor : undefined;
  }

  async set(key: string, cursor: string | undefined): Promise<void> {
    const { ts, client } = await this.client();
    const condition = new ts.Condition(ts.RowExistenceExpectation.IGNORE, null);
    if (cursor === undefined) {
      await client.deleteRow({ tableName: this.options.tableName, primaryKey: [{ key }], condition });
      return;
    }
    await client.putRow({
      tableName: this.options.tableName,
      primaryKey: [{ key }],
      attributeColumns: [
        { cursor },
        { expiresAt: ts.Long.fromNumber(this.now() + CURSOR_TTL_SECONDS * 1000) },
      ],
      condition,
    });
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private async client(): Promise<{ ts: Sdk; client: Client }> {
    // @ts-expect-error the tablestore package ships no type declarations; Sdk above types what we use.
    const mod = (await import('tablestore')) as { default?: Sdk };
    const ts = (mod.default ?? mod) as Sdk;
    const c = this.options.credentials();
    const client = new ts.Client({
      endpoint: this.options.endpoint,
      instancename: this.options.instanceName,
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.accessKeySecret,
      ...(c.securityToken ? { stsToken: c.securityToken } : {}),
      maxRetries: 0,
      // The SDK's own timeout is an idle timeout; the agent bounds the whole exchange and the body.
      httpOptions: {
        timeout: this.options.timeoutMs ?? 5_000,
        agent: boundedAgent(this.options.endpoint.startsWith('https:') ? 'https' : 'http', {
          deadlineMs: this.options.timeoutMs ?? 5_000,
        }),
      },
    });
    return { ts, client };
  }
}

/** The cursor store beside the Tablestore idempotency store (same ATREST_OTS_* variables), or undefined. */
export function cursorStoreFromEnv(
  env: Record<string, string | undefined>,
  credentials: () => AlicloudCredentials,
): SweepCursorStore | undefined {
  const endpoint = env.ATREST_OTS_ENDPOINT;
  const instanceName = env.ATREST_OTS_INSTANCE;
  const tableName = env.ATREST_OTS_TABLE;
  // storeFromEnv has already validated these (a partial or bad set fails the invocation first).
  if (!endpoint || !instanceName || !tableName) return undefined;
  return new TablestoreSweepCursorStore({ endpoint, instanceName, tableName, credentials });
}
