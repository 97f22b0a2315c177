/**
 * Where requests go, whatever the event says.
 *
 * 1. Without endpoint overrides, every connection any function opens — for the sample events and
 *    for fuzzed hostile ones — goes to its service's fixed host template filled with the target's
 *    validated region (and, for SLS, the validated project name the API puts in the host). No
 *    connection leaves the machine: `net.Socket#connect` is intercepted, the host recorded, and the
 *    socket sent to a closed loopback port.
 * 2. Host templates: endpointFor() builds a host only from a region that matches the pattern.
 * 3. Resource names are validated before use: the clients refuse a bad name without a request, and
 *    every request the emulators receive from fuzzed events names a resource of the API's pattern.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { createServer, Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { remediateEvent } from '#core/engine';
import { ConfigError, InvalidError } from '#core/errors';
import { MemoryIdempotencyStore } from '#core/idempotency';
import { ALICLOUD_REGION, AWS_REGION } from '#core/validation';
import { type AlicloudService, endpointFor } from '../../functions/alicloud/clients.ts';
import { createOssTablesClient } from '../../functions/alicloud/oss-tables.ts';
import { createSlsClient } from '../../functions/alicloud/sls.ts';
import { EMULATOR_CREDENTIALS } from '../emulator/acs3.ts';
import { inputsFor } from './arbitraries.ts';
import { allDrivers, type Driver } from './drivers.ts';
import { CONFIG, PARSERS, type Parser } from './parsers.ts';

const RUNS = Math.min(Number(process.env.FUZZ_RUNS ?? 60), 300);
const NO_RETRY = { ...CONFIG, retry: { maxAttempts: 1 } };

/** Each function's driver: the hosts it may connect to, its resource-name patterns. */
const DRIVERS = new Map(allDrivers().map((d) => [d.id, d]));
const driverOf = (id: string): Driver => {
  const d = DRIVERS.get(id as Driver['id']);
  if (d === undefined) throw new Error(`${id}: no driver`);
  return d;
};

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

describe('without overrides, connections go only to the fixed host of the validated region', () => {
  const connects: string[] = [];
  const hostHeaders: string[] = [];
  const original = Socket.prototype.connect;
  let closedPort = 0;
  const onRequest = (message: unknown) => {
    const request = (message as { request: ClientRequest }).request;
    const host = request.getHeader('host');
    hostHeaders.push(String(host ?? request.host).replace(/:\d+$/, ''));
  };

  beforeAll(async () => {
    // A port nobody listens on: every redirected connection is refused at once, on loopback.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    for (const name of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS', 'AWS_PROFILE'])
      vi.stubEnv(name, undefined);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'not-a-secret');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');

    Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
      const first = args[0];
      const options = (Array.isArray(first) ? first[0] : first) as { host?: unknown; port?: unknown } | null;
      if (options && typeof options === 'object' && typeof options.host === 'string') {
        if (!LOOPBACK.has(options.host)) {
          connects.push(options.host);
          options.host = '127.0.0.1';
          options.port = closedPort;
        }
      } else if (typeof first === 'number' || typeof first === 'string') {
        const host = typeof args[1] === 'string' ? args[1] : 'localhost';
        if (!LOOPBACK.has(host)) {
          connects.push(host);
          args[0] = closedPort;
          args[1] = '127.0.0.1';
        }
      }
      return (original as (...a: unknown[]) => Socket).apply(this, args);
    } as typeof Socket.prototype.connect;
    subscribe('http.client.request.start', onRequest);
  });

  afterAll(() => {
    Socket.prototype.connect = original;
    unsubscribe('http.client.request.start', onRequest);
    vi.unstubAllEnvs();
  });

  it.each(PARSERS.map((p) => [p.id, p] as const))('%s', async (_id, p: Parser) => {
    const remediator = p.make({});
    let reached = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant(p.sample), inputsFor(p.schema, p.sample, p.hints)),
        async (event) => {
          connects.length = 0;
          hostHeaders.length = 0;
          const outcomes = await remediateEvent(remediator, event, {
            config: NO_RETRY,
            store: new MemoryIdempotencyStore(),
            sleep: async () => {},
          });
          const regions = outcomes.map((o) => o.region).filter((r) => r !== '');
          const allowed = regions.map((r) => driverOf(p.id).host(r));
          for (const host of [...connects, ...hostHeaders]) {
            expect(
              allowed.some((pattern) => pattern.test(host)),
              `${host} for ${regions.join(',')}`,
            ).toBe(true);
          }
          if (connects.length > 0) reached += 1;
        },
      ),
      { numRuns: RUNS },
    );
    // The property is not vacuous: remediations did try to connect.
    expect(reached).toBeGreaterThan(0);
  });
});

describe('endpointFor: a host only from a region that matches the pattern', () => {
  const services: AlicloudService[] = ['SLS', 'CS', 'ECS', 'OSS_TABLES', 'KMS'];
  const TEMPLATE: Record<string, (r: string) => string> = {
    SLS: (r) => `${r}.log.aliyuncs.com`,
    CS: (r) => `cs.${r}.aliyuncs.com`,
    ECS: (r) => `ecs.${r}.aliyuncs.com`,
    OSS_TABLES: (r) => `${r}.oss-tables.aliyuncs.com`,
    KMS: (r) => `kms.${r}.aliyuncs.com`,
  };

  it('any string: the template of a valid region, or ConfigError', () => {
    const regions = fc.oneof(
      fc.stringMatching(ALICLOUD_REGION),
      fc.string(),
      fc.constantFrom('cn-hangzhou.evil.example.com', 'cn-hangzhou/..', 'a'),
    );
    fc.assert(
      fc.property(fc.constantFrom(...services), regions, (service, region) => {
        try {
          const endpoint = endpointFor(service, region, {});
          expect(ALICLOUD_REGION.test(region)).toBe(true);
          expect(endpoint).toEqual({
            protocol: 'https',
            host: TEMPLATE[service]?.(region),
            overridden: false,
          });
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          expect(ALICLOUD_REGION.test(region)).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('Function Compute needs a valid account id too', () => {
    expect(() => endpointFor('FC', 'cn-hangzhou', {}, 'evil.example.com')).toThrow(ConfigError);
    expect(endpointFor('FC', 'cn-hangzhou', {}, '1234567890123456').host).toBe(
      '1234567890123456.cn-hangzhou.fc.aliyuncs.com',
    );
  });

  it('an override is an http(s) URL from the environment, never anything else', () => {
    expect(() =>
      endpointFor('SLS', 'cn-hangzhou', { ALIBABA_CLOUD_ENDPOINT_SLS: 'file:///etc/passwd' }),
    ).toThrow(ConfigError);
    expect(() => endpointFor('SLS', 'cn-hangzhou', { ALIBABA_CLOUD_ENDPOINT_SLS: 'not a url' })).toThrow(
      ConfigError,
    );
  });

  it('AWS regions are the SDK pattern', () => {
    expect(AWS_REGION.test('us-east-1.evil.example.com')).toBe(false);
    expect(AWS_REGION.test('us-gov-west-1')).toBe(true);
  });
});

describe('resource names are validated before use', () => {
  const unused = {
    ALIBABA_CLOUD_ENDPOINT_SLS: 'http://127.0.0.1:9',
    ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: 'http://127.0.0.1:9',
  };

  it('the SLS client refuses a project or logstore outside the SLS pattern without a request', async () => {
    const sls = createSlsClient({
      region: 'cn-hangzhou',
      credentials: () => EMULATOR_CREDENTIALS,
      env: unused,
    });
    for (const [project, logstore] of [
      ['evil.example.com', 'ls-1'],
      ['proj-1', '../ls'],
      ['Proj', 'ls-1'],
      ['proj-1', 'a'],
    ] as const)
      await expect(sls.getLogStore(project, logstore)).rejects.toBeInstanceOf(InvalidError);
  });

  it('the OSS Tables client refuses a malformed bucket ARN without a request', async () => {
    const oss = createOssTablesClient({
      region: 'cn-hangzhou',
      credentials: () => EMULATOR_CREDENTIALS,
      env: unused,
    });
    for (const arn of [
      'acs:osstables:cn-hangzhou:1234567890123456:bucket/../x',
      'acs:osstables:evil.example.com:1234567890123456:bucket/x',
      'arn:aws:s3tables:us-east-1:111122223333:bucket/x',
    ])
      await expect(oss.getTableBucketEncryption(arn)).rejects.toBeInstanceOf(InvalidError);
  });

  describe('every request fuzzed events cause names a resource of the API pattern', () => {
    const drivers = allDrivers();

    beforeAll(async () => {
      for (const d of drivers) await d.start();
    });
    afterAll(async () => {
      for (const d of drivers) await d.stop();
      vi.unstubAllEnvs();
    });

    it.each(drivers.map((d) => [d.id, d] as const))('%s', async (_id, d: Driver) => {
      const p = PARSERS.find((x) => x.id === d.id);
      if (!p) throw new Error(`no parser for ${d.id}`);
      d.reset();
      d.seed();
      const remediator = d.remediator();
      await fc.assert(
        fc.asyncProperty(inputsFor(p.schema, p.sample, p.hints), async (event) => {
          await remediateEvent(remediator, event, {
            config: NO_RETRY,
            store: new MemoryIdempotencyStore(),
            sleep: async () => {},
          });
        }),
        { numRuns: RUNS },
      );
      const named = d.service.calls.filter((c) => c.resource !== undefined);
      expect(named.length).toBeGreaterThan(0);
      expect(named.filter((c) => !d.isResourceName(c.resource ?? '')).map((c) => c.resource)).toEqual([]);
    });
  });
});
