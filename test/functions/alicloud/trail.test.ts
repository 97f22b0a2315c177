/**
 * The trail path's pure parts and its reader: the SLS trigger event, the region it may name, what a
 * trail log holds, the LogGroupList decoder (against bytes written by hand from the schema) and
 * PullLogs against the emulator (signature checked, pages, deflate, bounds).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiNameOf,
  asTrailCloudEvent,
  isActionTrailCall,
  isBareTrailRecord,
  isSlsTriggerEvent,
} from '../../../functions/alicloud/events.ts';
import { SlsServiceError } from '../../../functions/alicloud/sls.ts';
import {
  createSlsLogReader,
  decodeLogGroupList,
  type SlsLogReader,
} from '../../../functions/alicloud/sls-logs.ts';
import {
  itemFromLog,
  officialSlsRegion,
  parseSlsTrigger,
  readTrail,
  type SlsTrigger,
  TrailReadIncompleteError,
} from '../../../functions/alicloud/trail.ts';
import { trailRegion } from '../../../functions/alicloud/trail-invocation.ts';
import { EMULATOR_CREDENTIALS } from '../../emulator/acs3.ts';
import { emulatorCursor, type SlsEmulator, startSls } from '../../emulator/sls.ts';

const load = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../events/alicloud/${path}`, import.meta.url), 'utf8'));

describe('SLS trigger event', () => {
  const trigger = load('logstore-encryption/create-logstore.sls-trigger.json');

  it('is recognised and parsed from the documented shape', () => {
    expect(isSlsTriggerEvent(trigger)).toBe(true);
    expect(parseSlsTrigger(trigger)).toEqual({
      kind: 'trigger',
      trigger: expect.objectContaining({
        project: 'atrest-trail-1234567890123456',
        logstore: 'actiontrail_atrest-trail',
        shard: 0,
        endpointRegion: 'cn-hangzhou',
      }),
    });
  });

  it.each([
    ['a project name that could build a host', { projectName: 'evil.example.com/x' }],
    ['a cursor with a path in it', { beginCursor: '../../x' }],
    ['a negative shard', { shardId: -1 }],
  ])('rejects %s', (_why, source) => {
    const event = { ...trigger, source: { ...(trigger.source as object), ...source } };
    expect(parseSlsTrigger(event).kind).toBe('rejected');
  });

  it.each([
    ['http://cn-hangzhou-intranet.log.aliyuncs.com', 'cn-hangzhou'],
    ['https://cn-shanghai.log.aliyuncs.com', 'cn-shanghai'],
    ['ap-southeast-1-share.log.aliyuncs.com', 'ap-southeast-1'],
    ['http://cn-hangzhou.log.aliyuncs.com.evil.example', undefined],
    ['http://127.0.0.1:4510', undefined],
    [undefined, undefined],
  ])('reads the region of an official SLS endpoint only: %s', (endpoint, region) => {
    expect(officialSlsRegion(endpoint)).toBe(region);
  });

  it("reads the function's own region; another region in the event is refused", () => {
    const t = { endpointRegion: 'cn-beijing' } as SlsTrigger;
    expect(trailRegion(t, 'cn-beijing')).toEqual({ region: 'cn-beijing' });
    expect(trailRegion(t, 'cn-hangzhou')).toMatchObject({ problem: expect.stringContaining('cn-beijing') });
    expect(trailRegion(t, undefined)).toEqual({ region: 'cn-beijing' });
    expect(trailRegion({} as SlsTrigger, undefined)).toMatchObject({ problem: expect.any(String) });
  });
});

describe('bare ActionTrail records', () => {
  const record = load('logstore-encryption/create-logstore.record.json');

  it('get the envelope EventBridge would give them', () => {
    expect(isBareTrailRecord(record)).toBe(true);
    expect(asTrailCloudEvent(record)).toMatchObject({
      id: record.eventId,
      type: 'sls:ActionTrail:ApiCall',
      aliyunaccountid: '1234567890123456',
      aliyunregionid: 'cn-hangzhou',
      data: { eventName: 'CreateLogStore' },
    });
  });

  it('decode requestParameterJson and JSON-text fields as a trail logstore may hold them', () => {
    const { requestParameters, referencedResources, ...rest } = record;
    const wrapped = asTrailCloudEvent({
      ...rest,
      requestParameterJson: JSON.stringify(requestParameters),
      referencedResources: JSON.stringify(referencedResources),
    }) as { data: Record<string, unknown> };
    expect(wrapped.data.requestParameters).toEqual(requestParameters);
    expect(wrapped.data.referencedResources).toEqual(referencedResources);
  });

  it('leave CloudEvents and other values alone', () => {
    const cloudEvent = load('logstore-encryption/create-logstore.json');
    expect(asTrailCloudEvent(cloudEvent)).toBe(cloudEvent);
    expect(asTrailCloudEvent('x')).toBe('x');
    expect(isBareTrailRecord({ eventName: 'CreateLogStore' })).toBe(false);
  });
});

describe('event names and console aliases', () => {
  const events = {
    names: ['CreateCluster'],
    aliases: [
      {
        name: 'Create',
        means: 'CreateCluster',
        types: ['ConsoleOperation'] as const,
        service: /^cs([.-]|$)/i,
      },
    ],
  };

  it('accepts the API name in every event type', () => {
    for (const type of ['ApiCall', 'ConsoleOperation', 'AliyunServiceEvent'] as const)
      expect(apiNameOf(type, { eventName: 'CreateCluster' }, events)).toBe('CreateCluster');
  });

  it("accepts the buy page's generic name only for its own service and event type", () => {
    expect(apiNameOf('ConsoleOperation', { eventName: 'Create', serviceName: 'CS' }, events)).toBe(
      'CreateCluster',
    );
    expect(
      apiNameOf(
        'ConsoleOperation',
        { eventName: 'Create', eventSource: 'cs.cn-hangzhou.aliyuncs.com' },
        events,
      ),
    ).toBe('CreateCluster');
    expect(
      apiNameOf('ConsoleOperation', { eventName: 'Create', serviceName: 'Hologram' }, events),
    ).toBeUndefined();
    expect(apiNameOf('ApiCall', { eventName: 'Create', serviceName: 'CS' }, events)).toBeUndefined();
  });

  it('routes on the type suffix of all three types, never on other ActionTrail types', () => {
    const event = { type: 'cs:ActionTrail:ConsoleOperation', data: { eventName: 'CreateCluster' } };
    expect(isActionTrailCall(event, events)).toBe(true);
    expect(isActionTrailCall({ ...event, type: 'cs:ActionTrail:Insight' }, events)).toBe(false);
    expect(
      isActionTrailCall({ ...event, type: 'cs:Config:ConfigurationItemChangeNotification' }, events),
    ).toBe(false);
  });
});

describe('trail logs', () => {
  it.each([
    [{ event: JSON.stringify({ eventName: 'CreateLogStore', eventType: 'ApiCall' }) }, 'record'],
    [{ event: '{"half' }, 'rejected'],
    [{ event: '[1,2]' }, 'rejected'],
    [{ content: 'an access log line' }, 'foreign'],
  ])('%j is a %s', (contents, kind) => {
    expect(itemFromLog({ time: 1, contents: Object.entries(contents) }, 'w').kind).toBe(kind);
  });
});

describe('LogGroupList decoding', () => {
  it('reads groups, logs, contents, topic and tags from bytes written by hand from the schema', () => {
    // LogGroupList{ logGroupList: [ LogGroup{ Logs:[Log{Time:1700000000, Contents:[{k:v}]}], Topic:"t", LogTags:[{a:b}] } ] }
    const content = Buffer.from([0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76]); // Key "k", Value "v"
    const log = Buffer.concat([
      Buffer.from([0x08, 0x80, 0xe2, 0xcf, 0xaa, 0x06, 0x12, content.length]),
      content,
    ]);
    const tag = Buffer.from([0x0a, 0x01, 0x61, 0x12, 0x01, 0x62]);
    const group = Buffer.concat([
      Buffer.from([0x0a, log.length]),
      log,
      Buffer.from([0x1a, 0x01, 0x74]),
      Buffer.from([0x32, tag.length]),
      tag,
    ]);
    const list = Buffer.concat([Buffer.from([0x0a, group.length]), group]);

    expect(decodeLogGroupList(list)).toEqual([
      { topic: 't', tags: [['a', 'b']], logs: [{ time: 1_700_000_000, contents: [['k', 'v']] }] },
    ]);
  });

  it('refuses a truncated message instead of returning half of it', () => {
    expect(() => decodeLogGroupList(Buffer.from([0x0a, 0x10, 0x0a]))).toThrow(SlsServiceError);
  });
});

describe('PullLogs against the emulator', () => {
  let sls: SlsEmulator;
  let reader: SlsLogReader;
  beforeAll(async () => {
    sls = await startSls();
    reader = createSlsLogReader({
      region: 'cn-hangzhou',
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_SLS: sls.url },
    });
    for (let i = 0; i < 5; i++)
      sls.state.appendLogs('trail-p', 'trail-ls', 0, {
        logs: [{ time: 1_700_000_000 + i, contents: { event: `{"n":${i}}` } }],
      });
  });
  afterAll(() => sls.stop());

  const trigger: SlsTrigger = {
    project: 'trail-p',
    logstore: 'trail-ls',
    shard: 0,
    beginCursor: emulatorCursor(1),
    endCursor: emulatorCursor(4),
    id: 'sls:trail-p/trail-ls#0',
  };

  it('reads exactly the range, page by page, deflated and signed', async () => {
    sls.service.resetLog();
    const { items, pages } = await readTrail(reader, trigger, { pageSize: 2 });
    expect(items.map((i) => (i.kind === 'rejected' ? i.reason : i.kind))).toHaveLength(3);
    expect(pages).toBe(2);
    expect(sls.service.count({ action: 'PullLogs', ok: true })).toBe(2);
    expect(sls.state.hosts.at(-1)).toMatch(/^trail-p\./);
  });

  it('inflates no more than the cap', async () => {
    const small = createSlsLogReader({
      region: 'cn-hangzhou',
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_SLS: sls.url },
      maxBodyBytes: 8,
    });
    await expect(
      small.pullLogs('trail-p', 'trail-ls', 0, {
        cursor: trigger.beginCursor,
        endCursor: trigger.endCursor,
        count: 10,
      }),
    ).rejects.toMatchObject({ code: 'MalformedResponse' });
  });

  it('stops with TrailReadIncomplete when a bound is reached first, never with half a range', async () => {
    await expect(readTrail(reader, trigger, { pageSize: 1, maxPages: 2 })).rejects.toBeInstanceOf(
      TrailReadIncompleteError,
    );
    await expect(readTrail(reader, trigger, { remainingMs: () => 1 })).rejects.toBeInstanceOf(
      TrailReadIncompleteError,
    );
  });

  it('a signature made with the wrong secret is refused by the emulator', async () => {
    const wrong = createSlsLogReader({
      region: 'cn-hangzhou',
      credentials: () => ({ ...EMULATOR_CREDENTIALS, accessKeySecret: 'not-the-secret' }),
      env: { ALIBABA_CLOUD_ENDPOINT_SLS: sls.url },
    });
    await expect(readTrail(wrong, trigger)).rejects.toMatchObject({ code: 'SignatureNotMatch' });
  });

  it("an SLS error answer keeps SLS's code and request id", async () => {
    sls.service.failNext('PullLogs', { status: 400, code: 'InvalidCursor', times: 1 });
    await expect(readTrail(reader, trigger)).rejects.toMatchObject({
      code: 'InvalidCursor',
      requestId: expect.any(String),
    });
  });
});

describe('no input crashes the trail path parsers', () => {
  const recordish = fc.record(
    {
      eventName: fc.oneof(fc.constantFrom('CreateLogStore', 'CreateCluster', 'Create'), fc.string()),
      eventType: fc.oneof(fc.constantFrom('ApiCall', 'ConsoleOperation', 'AliyunServiceEvent'), fc.string()),
      eventId: fc.oneof(fc.uuid(), fc.anything()),
      serviceName: fc.anything(),
      eventSource: fc.anything(),
      acsRegion: fc.anything(),
      recipientAccountId: fc.anything(),
      requestParameterJson: fc.oneof(fc.json(), fc.string()),
      referencedResources: fc.oneof(fc.json(), fc.anything()),
      userIdentity: fc.anything(),
    },
    { requiredKeys: ['eventName', 'eventType'] },
  );

  it('wrapping, trigger parsing and every function parse of a bare record', async () => {
    const parsers = await Promise.all(
      ['logstore-encryption', 'cluster-kms', 'table-bucket-encryption'].map(
        async (fn) => (await import(`../../../functions/alicloud/${fn}/remediator.ts`)).parseEvent,
      ),
    );
    fc.assert(
      fc.property(fc.oneof(recordish, fc.anything()), (value) => {
        asTrailCloudEvent(value);
        expect(['trigger', 'rejected']).toContain(parseSlsTrigger(value).kind);
        for (const parse of parsers) expect(['targets', 'ignored', 'rejected']).toContain(parse(value).kind);
      }),
      { numRuns: 300 },
    );
  });
});
