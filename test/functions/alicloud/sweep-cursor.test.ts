/**
 * The scheduled sweep's cursor on Alibaba Cloud: a row beside the idempotency records in the
 * Tablestore table (through the Tablestore emulator and the real SDK), and an FC timer sweep that
 * runs out of time resuming from it on the next tick.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TablestoreSweepCursorStore } from '../../../functions/alicloud/sweep-cursor.ts';
import { sweepCursorKey } from '../../../functions/core/sweep-cursor.ts';
import {
  type RunningTablestore,
  startTablestore,
  TABLESTORE_CREDENTIALS,
} from '../../emulator/tablestore.ts';

const NOW = Date.parse('2026-11-22T03:00:00Z');
let ots: RunningTablestore;

beforeAll(async () => {
  ots = await startTablestore();
});
afterAll(() => ots.stop());
beforeEach(() => ots.rows().clear());

const store = (now = () => NOW) =>
  new TablestoreSweepCursorStore({
    endpoint: ots.endpoint,
    instanceName: ots.instanceName,
    tableName: ots.tableName,
    credentials: () => TABLESTORE_CREDENTIALS,
    now,
  });

describe('TablestoreSweepCursorStore', () => {
  it('keeps, returns and forgets a cursor under a key no idempotency record has', async () => {
    const key = sweepCursorKey('alicloud.logstore-encryption', 'cn-hangzhou');

    await store().set(key, '500.3.0');
    const kept = await store().get(key);
    await store().set(key, undefined);

    expect(kept).toBe('500.3.0');
    expect(await store().get(key)).toBeUndefined();
    expect(ots.rows().size).toBe(0);
  });

  it('does not resume from a cursor older than its time to live', async () => {
    const key = sweepCursorKey('alicloud.cluster-kms', 'cn-hangzhou');
    await store().set(key, '7');

    expect(await store(() => NOW + 4 * 86_400_000).get(key)).toBeUndefined();
  });
});
