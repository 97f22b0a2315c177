/**
 * A wire-level Tablestore (OTS) fake: `POST /<Operation>` with a protobuf body, decoded with the
 * SDK's own .proto files (protobufjs), rows in PlainBuffer, requests signed with HMAC-SHA1 over
 * `path\nPOST\n\n<sorted x-ots-* headers>\n` in `x-ots-signature`, errors as a protobuf
 * `Error{code, message}` with the HTTP status Tablestore uses. Operations: PutRow, GetRow,
 * UpdateRow, DeleteRow, CreateTable; row conditions (IGNORE, EXPECT_EXIST, EXPECT_NOT_EXIST) and
 * column conditions (single-column and composite) are checked the way Tablestore checks them.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import {
  type Answer,
  EmulatedService,
  nextRequestId,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';
import {
  CELL_OP,
  type CellValue,
  type PbCell,
  PlainBufferError,
  readConditionValue,
  readRow,
  writeRow,
} from './tablestore-plainbuffer.ts';

export type { CellValue } from './tablestore-plainbuffer.ts';

/** Dummy credentials the emulator accepts; tests hand these to the store. Not a real key. */
export const TABLESTORE_CREDENTIALS = {
  accessKeyId: 'LTAI5tEMULATOR00000000',
  accessKeySecret: 'emulator-secret-not-a-real-key',
};

const protocolDir = join(
  dirname(createRequire(import.meta.url).resolve('tablestore/package.json')),
  'lib/protocol',
);
const root = protobuf.loadSync([
  join(protocolDir, 'tablestore.proto'),
  join(protocolDir, 'tablestore_filter.proto'),
]);
const type = (name: string) => root.lookupType(name);

const ROW_EXISTENCE = { ignore: 0, expectExist: 1, expectNotExist: 2 } as const;
const FILTER = { single: 1, composite: 2 } as const;
const LOGICAL = { not: 1, and: 2, or: 3 } as const;
const PK_TYPE = { INTEGER: 1, STRING: 2 } as const;
const OPERATIONS = new Set(['PutRow', 'GetRow', 'UpdateRow', 'DeleteRow', 'CreateTable']);
const REQUIRED_HEADERS = [
  'x-ots-date',
  'x-ots-apiversion',
  'x-ots-accesskeyid',
  'x-ots-instancename',
  'x-ots-contentmd5',
  'x-ots-signature',
];
/** Tablestore rejects a request whose x-ots-date is further than this from the server clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;

interface Condition {
  rowExistence: number;
  columnCondition?: Uint8Array;
}
interface Filter {
  type: number;
  filter: Uint8Array;
}
type Row = Record<string, CellValue>;
interface Table {
  pkName: string;
  pkType: 'STRING' | 'INTEGER';
  rows: Map<string, Row>;
  /** When each row was last written: the cell timestamps GetRow returns. */
  written: Map<string, number>;
}

export interface TablestoreEmulatorOptions {
  instanceName?: string;
  /** The table created at start (primary key `key` STRING). Default `atrest_idempotency`. */
  tableName?: string;
  credentials?: { accessKeyId: string; accessKeySecret: string; securityToken?: string };
  port?: number;
}

const fail = (status: number, code: string, message: string): never => {
  throw new ServiceFailure(status, code, message);
};
const invalid = (message: string): never => fail(400, 'OTSParameterInvalid', message);
const md5 = (body: Uint8Array) => createHash('md5').update(body).digest('base64');

function decode<T>(name: string, body: Uint8Array): T {
  try {
    return type(name).decode(body) as unknown as T;
  } catch {
    return invalid(`Failed to parse the ProtoBuf message (${name}).`);
  }
}

const encode = (name: string, value: object): Buffer => {
  const t = type(name);
  return Buffer.from(t.encode(t.create(value)).finish());
};

function parseRow(bytes: Uint8Array) {
  try {
    return readRow(bytes);
  } catch (error) {
    if (error instanceof PlainBufferError) return invalid(error.message);
    throw error;
  }
}

class TablestoreHandler implements ServiceHandler {
  readonly tables = new Map<string, Table>();
  readonly throttle = { status: 503, code: 'OTSServerBusy' };

  constructor(
    readonly instanceName: string,
    private readonly credentials: NonNullable<TablestoreEmulatorOptions['credentials']>,
  ) {}

  createTable(name: string, pkName = 'key', pkType: Table['pkType'] = 'STRING'): Table {
    const table: Table = { pkName, pkType, rows: new Map(), written: new Map() };
    this.tables.set(name, table);
    return table;
  }

  action(ctx: RequestContext): string {
    return ctx.url.pathname.replace(/^\//, '');
  }

  isWrite(action: string): boolean {
    return action !== 'GetRow';
  }

  error(status: number, code: string, message: string, requestId: string): Answer {
    return this.answer(status, encode('main.proto.Error', { code, message }), requestId);
  }

  handle(ctx: RequestContext, action: string, log: (resource: string) => void): Answer {
    if (ctx.req.method !== 'POST')
      fail(405, 'OTSMethodNotAllowed', 'OTSMethodNotAllowedOnly POST method for requests is supported.');
    this.authenticate(ctx);
    if (!OPERATIONS.has(action)) invalid(`Unsupported operation: '${action}'.`);
    const requestId = nextRequestId();
    const body = this.dispatch(action, ctx.body, log);
    return this.answer(200, body, requestId);
  }

  private answer(status: number, body: Buffer, requestId: string): Answer {
    return {
      status,
      body,
      headers: {
        'x-ots-requestid': requestId,
        'x-ots-contentmd5': md5(body),
        'x-ots-contenttype': 'protocol buffer',
        'x-ots-date': new Date().toISOString(),
      },
    };
  }

  /** The checks Tablestore makes before it reads the body, in its order. */
  private authenticate({ req, body, url }: RequestContext): void {
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    for (const name of REQUIRED_HEADERS)
      if (header(name) === undefined) invalid(`Missing header: '${name}'.`);
    const date = Date.parse(header('x-ots-date') ?? '');
    if (Number.isNaN(date)) invalid(`Invalid date format: ${header('x-ots-date')}.`);
    if (Math.abs(Date.now() - date) > MAX_SKEW_MS)
      fail(403, 'OTSAuthFailed', `Mismatch between system time and x-ots-date: ${header('x-ots-date')}.`);
    if (header('x-ots-contentmd5') !== md5(body))
      fail(
        403,
        'OTSAuthFailed',
        'Mismatch between MD5 value of request body and x-ots-contentmd5 in header.',
      );
    if (header('x-ots-accesskeyid') !== this.credentials.accessKeyId)
      fail(403, 'OTSAuthFailed', 'The AccessKeyID does not exist.');
    if (
      this.credentials.securityToken !== undefined &&
      header('x-ots-ststoken') !== this.credentials.securityToken
    )
      fail(403, 'OTSAuthFailed', 'The security token is invalid.');
    const canonical = Object.keys(req.headers)
      .filter((name) => name.startsWith('x-ots-') && name !== 'x-ots-signature')
      .sort()
      .map((name) => `${name}:${header(name)}`)
      .join('\n');
    const stringToSign = `${url.pathname}\nPOST\n\n${canonical}\n`;
    const expected = createHmac('sha1', this.credentials.accessKeySecret).update(stringToSign).digest();
    const given = Buffer.from(header('x-ots-signature') ?? '', 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      fail(403, 'OTSAuthFailed', 'Signature mismatch.');
    if (header('x-ots-instancename') !== this.instanceName)
      fail(403, 'OTSAuthFailed', 'The instance is not found.');
  }

  private dispatch(action: string, body: Buffer, log: (resource: string) => void): Buffer {
    if (action === 'CreateTable') return this.createTableOp(body, log);
    const request = decode<{
      tableName: string;
      row?: Uint8Array;
      rowChange?: Uint8Array;
      primaryKey?: Uint8Array;
      condition?: Condition;
      columnsToGet?: string[];
    }>(`main.proto.${action}Request`, body);
    const table =
      this.tables.get(request.tableName) ?? fail(404, 'OTSObjectNotExist', 'Requested table does not exist.');
    const row = parseRow(request.row ?? request.rowChange ?? request.primaryKey ?? new Uint8Array());
    const key = this.keyOf(table, row.primaryKey);
    log(`${request.tableName}/${key}`);
    const existing = table.rows.get(key);
    if (action !== 'GetRow' && !conditionHolds(request.condition, existing))
      fail(403, 'OTSConditionCheckFail', 'Condition check failed.');
    const written = { consumed: { capacityUnit: { read: 0, write: 1 } } };
    switch (action) {
      case 'GetRow': {
        const wanted = request.columnsToGet?.length ? new Set(request.columnsToGet) : undefined;
        const cells = Object.entries(existing ?? {}).filter(([name]) => !wanted || wanted.has(name));
        const bytes = existing
          ? writeRow(
              [[table.pkName, table.pkType === 'STRING' ? key : Number(key)]],
              cells,
              table.written.get(key) ?? 0,
            )
          : Buffer.alloc(0);
        return encode('main.proto.GetRowResponse', {
          consumed: { capacityUnit: { read: 1, write: 0 } },
          row: bytes,
        });
      }
      case 'PutRow':
        this.store(table, key, Object.fromEntries(row.cells.map((cell) => [cell.name, putValue(cell)])));
        return encode('main.proto.PutRowResponse', written);
      case 'UpdateRow':
        this.store(table, key, applyUpdate(existing ?? {}, row.cells));
        return encode('main.proto.UpdateRowResponse', written);
      default:
        if (!row.deleteMarker) invalid('DeleteRow needs a delete marker.');
        this.store(table, key, {});
        return encode('main.proto.DeleteRowResponse', written);
    }
  }

  /** A row with no attribute columns left does not exist in Tablestore. */
  private store(table: Table, key: string, row: Row): void {
    if (Object.keys(row).length === 0) {
      table.rows.delete(key);
      table.written.delete(key);
    } else {
      table.rows.set(key, row);
      table.written.set(key, Date.now());
    }
  }

  private keyOf(table: Table, primaryKey: PbCell[]): string {
    const [pk, ...extra] = primaryKey;
    if (!pk || extra.length > 0 || pk.name !== table.pkName) invalid('Validate PK name fail.');
    const value = pk?.value;
    if (typeof value !== (table.pkType === 'STRING' ? 'string' : 'number')) invalid('Validate PK type fail.');
    return String(value);
  }

  private createTableOp(body: Buffer, log: (resource: string) => void): Buffer {
    const request = decode<{
      tableMeta: { tableName: string; primaryKey: { name: string; type: number }[] };
    }>('main.proto.CreateTableRequest', body);
    const { tableName, primaryKey } = request.tableMeta;
    log(tableName);
    if (this.tables.has(tableName)) fail(409, 'OTSObjectAlreadyExist', 'Requested table already exists.');
    const [pk, ...extra] = primaryKey;
    if (!pk || extra.length > 0) invalid('emulator: tables with exactly one primary key column only.');
    const pkType =
      pk?.type === PK_TYPE.INTEGER ? 'INTEGER' : pk?.type === PK_TYPE.STRING ? 'STRING' : undefined;
    if (!pk || !pkType) return invalid('emulator: STRING or INTEGER primary keys only.');
    this.createTable(tableName, pk.name, pkType);
    return encode('main.proto.CreateTableResponse', {});
  }
}

function putValue(cell: PbCell): CellValue {
  if (cell.op !== undefined || cell.value === undefined)
    return invalid(`PutRow: column ${cell.name} has no value.`);
  return cell.value;
}

function applyUpdate(existing: Row, cells: PbCell[]): Row {
  const row = { ...existing };
  for (const cell of cells) {
    if (cell.op === CELL_OP.deleteAllVersions || cell.op === CELL_OP.deleteOneVersion) delete row[cell.name];
    else if (cell.op === CELL_OP.increment) {
      const current = row[cell.name] ?? 0;
      if (typeof current !== 'number' || typeof cell.value !== 'number')
        invalid(`Increment of a non-INTEGER column ${cell.name}.`);
      row[cell.name] = Number(current) + Number(cell.value);
    } else {
      if (cell.value === undefined) invalid(`UpdateRow: column ${cell.name} has no value.`);
      row[cell.name] = cell.value as CellValue;
    }
  }
  return row;
}

/** Row existence first, then the column condition on the row as it is now (missing columns per filterIfMissing). */
function conditionHolds(condition: Condition | undefined, existing: Row | undefined): boolean {
  if (!condition) return invalid('The condition is required.');
  if (condition.rowExistence === ROW_EXISTENCE.expectExist && !existing) return false;
  if (condition.rowExistence === ROW_EXISTENCE.expectNotExist && existing) return false;
  if (!condition.columnCondition || condition.columnCondition.length === 0) return true;
  return filterHolds(decode<Filter>('filter.proto.Filter', condition.columnCondition), existing ?? {});
}

function filterHolds(filter: Filter, row: Row): boolean {
  if (filter.type === FILTER.single) {
    const single = decode<{
      comparator: number;
      columnName: string;
      columnValue: Uint8Array;
      filterIfMissing: boolean;
    }>('filter.proto.SingleColumnValueFilter', filter.filter);
    const actual = row[single.columnName];
    if (actual === undefined) return !single.filterIfMissing;
    let expected: CellValue;
    try {
      expected = readConditionValue(single.columnValue);
    } catch (error) {
      return invalid((error as Error).message);
    }
    return compare(actual, expected, single.comparator);
  }
  if (filter.type === FILTER.composite) {
    const composite = decode<{ combinator: number; subFilters: Filter[] }>(
      'filter.proto.CompositeColumnValueFilter',
      filter.filter,
    );
    const results = composite.subFilters.map((sub) => filterHolds(sub, row));
    if (composite.combinator === LOGICAL.not) return !results[0];
    return composite.combinator === LOGICAL.and ? results.every(Boolean) : results.some(Boolean);
  }
  return invalid(`Unsupported column condition type ${filter.type}.`);
}

/** Values of different types never satisfy a condition (assumed; Tablestore does not document it). */
function compare(actual: CellValue, expected: CellValue, comparator: number): boolean {
  if (typeof actual !== typeof expected) return false;
  const order =
    typeof actual === 'number'
      ? Math.sign(actual - (expected as number))
      : Buffer.compare(Buffer.from(actual), Buffer.from(expected as string));
  switch (comparator) {
    case 1:
      return order === 0;
    case 2:
      return order !== 0;
    case 3:
      return order > 0;
    case 4:
      return order >= 0;
    case 5:
      return order < 0;
    case 6:
      return order <= 0;
    default:
      return invalid(`Unsupported comparator ${comparator}.`);
  }
}

/** Starts the fake on a loopback port with the idempotency table already created. */
export async function startTablestore(options: TablestoreEmulatorOptions = {}) {
  const instanceName = options.instanceName ?? 'atrest-emu';
  const tableName = options.tableName ?? 'atrest_idempotency';
  const credentials = options.credentials ?? TABLESTORE_CREDENTIALS;
  const handler = new TablestoreHandler(instanceName, credentials);
  const table = handler.createTable(tableName);
  const service = new EmulatedService('tablestore', handler);
  const endpoint = await service.start(options.port);
  return {
    service,
    endpoint,
    instanceName,
    tableName,
    credentials,
    /** The idempotency table's rows by primary key (live: tests may read and change them). */
    rows: (): Map<string, Row> => table.rows,
    /** Puts a row as if written now (e.g. an expired lock left by a crashed run). */
    seed(key: string, row: Row): void {
      table.rows.set(key, { ...row });
      table.written.set(key, Date.now());
    },
    /** The rows of any other table created through CreateTable. */
    table: (name: string): Map<string, Row> | undefined => handler.tables.get(name)?.rows,
    stop: () => service.stop(),
  };
}

export type RunningTablestore = Awaited<ReturnType<typeof startTablestore>>;
