import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningTablestore, startTablestore, TABLESTORE_CREDENTIALS } from './tablestore.ts';

// The real SDK, untyped CommonJS: the emulator must satisfy it byte for byte.
const TableStore = createRequire(import.meta.url)('tablestore');
const { Condition, RowExistenceExpectation: Row, SingleColumnCondition, ComparatorType, Long } = TableStore;

let ots: RunningTablestore;
let client: ReturnType<typeof connect>;

function connect(secret = TABLESTORE_CREDENTIALS.accessKeySecret) {
  return new TableStore.Client({
    endpoint: ots.endpoint,
    instancename: ots.instanceName,
    accessKeyId: TABLESTORE_CREDENTIALS.accessKeyId,
    secretAccessKey: secret,
    maxRetries: 0,
  });
}

const put = (key: string, expect: number, columnCondition: unknown = null) =>
  client.putRow({
    tableName: ots.tableName,
    primaryKey: [{ key }],
    attributeColumns: [{ status: 'inProgress' }, { expiresAt: Long.fromNumber(100) }],
    condition: new Condition(expect, columnCondition),
  });

const expiresAtIs = (value: number) =>
  new SingleColumnCondition('expiresAt', Long.fromNumber(value), ComparatorType.EQUAL, false);

beforeAll(async () => {
  ots = await startTablestore();
  client = connect();
});
afterAll(async () => {
  await ots.stop();
});
beforeEach(() => {
  ots.rows().clear();
});

describe('Tablestore emulator, driven by the tablestore SDK', () => {
  it('stores STRING and INTEGER cells and returns them through GetRow', async () => {
    // Prepare
    await put('a', Row.IGNORE);
    // Act
    const { row } = await client.getRow({ tableName: ots.tableName, primaryKey: [{ key: 'a' }] });
    // Assess
    expect(ots.rows().get('a')).toEqual({ status: 'inProgress', expiresAt: 100 });
    expect(row.primaryKey).toEqual([{ name: 'key', value: 'a' }]);
    const cells = Object.fromEntries(
      row.attributes.map((c: { columnName: string; columnValue: unknown }) => [c.columnName, c.columnValue]),
    );
    expect(cells.status).toBe('inProgress');
    expect(cells.expiresAt.toNumber()).toBe(100);
  });

  it('answers a missing row with an empty row', async () => {
    const { row } = await client.getRow({ tableName: ots.tableName, primaryKey: [{ key: 'none' }] });
    expect(row).toEqual({});
  });

  it('refuses EXPECT_NOT_EXIST on an existing row with 403 OTSConditionCheckFail', async () => {
    // Prepare
    await put('b', Row.EXPECT_NOT_EXIST);
    // Act
    const second = put('b', Row.EXPECT_NOT_EXIST);
    // Assess
    await expect(second).rejects.toMatchObject({
      code: 403,
      message: expect.stringContaining('OTSConditionCheckFail'),
    });
  });

  it('applies an UpdateRow only while the column condition matches the current value', async () => {
    // Prepare
    await put('c', Row.IGNORE);
    const update = (expected: number) =>
      client.updateRow({
        tableName: ots.tableName,
        primaryKey: [{ key: 'c' }],
        updateOfAttributeColumns: [{ PUT: [{ expiresAt: Long.fromNumber(200) }] }],
        condition: new Condition(Row.EXPECT_EXIST, expiresAtIs(expected)),
      });
    // Act
    await update(100);
    const stale = update(100);
    // Assess
    await expect(stale).rejects.toMatchObject({ message: expect.stringContaining('OTSConditionCheckFail') });
    expect(ots.rows().get('c')?.expiresAt).toBe(200);
  });

  it('checks row existence on DeleteRow: EXPECT_EXIST fails on a missing row, IGNORE does not', async () => {
    const remove = (expect: number) =>
      client.deleteRow({
        tableName: ots.tableName,
        primaryKey: [{ key: 'gone' }],
        condition: new Condition(expect, null),
      });
    await expect(remove(Row.EXPECT_EXIST)).rejects.toMatchObject({ code: 403 });
    await expect(remove(Row.IGNORE)).resolves.toBeDefined();
  });

  it('rejects a request signed with the wrong secret with 403 OTSAuthFailed', async () => {
    // Act
    const denied = connect('wrong-secret').getRow({ tableName: ots.tableName, primaryKey: [{ key: 'a' }] });
    // Assess
    await expect(denied).rejects.toMatchObject({
      code: 403,
      message: expect.stringContaining('OTSAuthFailed'),
    });
  });

  it('creates tables and answers 404 OTSObjectNotExist for unknown ones', async () => {
    // Prepare
    const missing = client.getRow({ tableName: 'made_later', primaryKey: [{ key: 'x' }] });
    await expect(missing).rejects.toMatchObject({
      code: 404,
      message: expect.stringContaining('OTSObjectNotExist'),
    });
    // Act
    await client.createTable({
      tableMeta: { tableName: 'made_later', primaryKey: [{ name: 'key', type: 'STRING' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
    });
    await client.putRow({
      tableName: 'made_later',
      primaryKey: [{ key: 'x' }],
      attributeColumns: [{ v: 'y' }],
      condition: new Condition(Row.IGNORE, null),
    });
    // Assess
    expect(ots.table('made_later')?.get('x')).toEqual({ v: 'y' });
  });

  it('serves the injected fault instead of the real answer', async () => {
    ots.service.failNext('GetRow', { status: 503, code: 'OTSServerBusy', times: 1 });
    const busy = client.getRow({ tableName: ots.tableName, primaryKey: [{ key: 'a' }] });
    await expect(busy).rejects.toMatchObject({
      code: 503,
      message: expect.stringContaining('OTSServerBusy'),
    });
  });
});
