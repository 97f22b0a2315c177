import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlicloudApi } from '../../functions/alicloud/openapi.ts';
import { type AckEmulator, startAck } from './ack.ts';
import { EMULATOR_CREDENTIALS } from './acs3.ts';

const ID = 'c0123456789abcdef0123456789abcdef';
let now = 1_000_000;
let ack: AckEmulator;
let api: AlicloudApi;

const describeCluster = (id = ID) =>
  api.roa('CS', 'cn-hangzhou', {
    action: 'DescribeClusterDetail',
    method: 'GET',
    pathname: `/clusters/${id}`,
  });
const updateKms = (key: string, id = ID) =>
  api.roa('CS', 'cn-hangzhou', {
    action: 'UpdateKMSEncryption',
    method: 'PUT',
    pathname: `/clusters/${id}/kms`,
    body: { disable_encryption: false, kms_key_id: key },
    bodyType: 'none',
  });
const failure = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return undefined;
  } catch (error) {
    const e = error as { statusCode?: number; code?: string };
    return { status: e.statusCode, code: e.code };
  }
};
const stateOf = async (id = ID) => ((await describeCluster(id)).body as { state: string }).state;

beforeAll(async () => {
  ack = await startAck({ now: () => now, updatingReads: 1 });
  api = new AlicloudApi({
    credentials: () => EMULATOR_CREDENTIALS,
    env: { ALIBABA_CLOUD_ENDPOINT_CS: ack.url },
  });
});
afterAll(() => ack.stop());
beforeEach(() => {
  ack.service.resetLog();
  ack.service.clearFaults();
});

describe('ACK emulator', () => {
  it('moves an initial cluster to running after readyAfterReads reads', async () => {
    ack.clusters.seed({ clusterId: ID, state: 'initial', readyAfterReads: 2 });

    const states = [await stateOf(), await stateOf(), await stateOf()];

    expect(states).toEqual(['initial', 'initial', 'running']);
  });

  it('reports the key in meta_data and goes updating → running after UpdateKMSEncryption', async () => {
    ack.clusters.seed({ clusterId: ID });

    await updateKms('key-1');
    const first = (await describeCluster()).body as { state: string; meta_data: string };
    const second = await stateOf();

    expect(first.state).toBe('updating');
    expect(JSON.parse(first.meta_data).Capabilities).toMatchObject({
      EncryptionKMSKeyId: 'key-1',
      DisableEncryption: false,
    });
    expect(second).toBe('running');
    expect(ack.service.count({ action: 'UpdateKMSEncryption', write: true, ok: true })).toBe(1);
  });

  it('answers 409 to a second update within five minutes, and accepts it after', async () => {
    ack.clusters.seed({ clusterId: ID });
    await updateKms('key-1');
    ack.clusters.advance(ID);

    const early = await failure(updateKms('key-2'));
    now += 5 * 60_000;
    const late = await failure(updateKms('key-2'));

    expect(early).toEqual({ status: 409, code: 'OperationConflict' });
    expect(late).toBeUndefined();
  });

  it('answers 404 ErrorClusterNotFound for an unknown cluster', async () => {
    const result = await failure(describeCluster('cffffffffffffffffffffffffffffffff'));

    expect(result).toEqual({ status: 404, code: 'ErrorClusterNotFound' });
  });

  it('pages DescribeClustersV1 by region', async () => {
    for (let i = 0; i < 3; i++)
      ack.clusters.seed({ clusterId: `c${String(i).repeat(32)}`, regionId: 'cn-beijing' });

    const page2 = await api.roa('CS', 'cn-beijing', {
      action: 'DescribeClustersV1',
      method: 'GET',
      pathname: '/api/v1/clusters',
      query: { region_id: 'cn-beijing', page_number: '2', page_size: '2' },
    });

    expect(page2.body).toMatchObject({
      clusters: [{ cluster_id: `c${'2'.repeat(32)}` }],
      page_info: { page_number: 2, page_size: 2, total_count: 3 },
    });
  });
});
