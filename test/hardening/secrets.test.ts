/**
 * Secret hygiene: every function runs through its platform entry (Lambda handler with Powertools
 * Logger at DEBUG; Function Compute adapter with STS credentials in the context and the Tablestore
 * store) and through `atrest replay`, with known dummy secrets, over success, service failures,
 * transport failures, rejected signatures and a re-queue. The secret keys and security tokens must
 * appear in no log line, no NDJSON line, no outcome and no thrown error — inspected deeply, the
 * way a runtime prints an uncaught error with its cause chain.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format, inspect } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { createFcHandler, type FcContext, type FcHandlerOptions } from '../../functions/alicloud/fc.ts';
import { main } from '../../functions/cli/main.ts';
import type { Config } from '../../functions/config.ts';
import { configSection, manifestOf } from '../../functions/manifests.ts';
import { type CallerSts, startCallerSts } from '../emulator/accounts.ts';
import type { AckEmulator } from '../emulator/ack.ts';
import { type FcEmulator, startFc } from '../emulator/fc.ts';
import { type RunningTablestore, startTablestore } from '../emulator/tablestore.ts';
import { ACK_KEY, clusterId } from '../functions/alicloud/cluster-kms/driver.ts';
import { type AnyRemediator, allDrivers, type Driver } from './drivers.ts';
import { fcOptionsOf, handlerModule, lambdaContext } from './platform.ts';

// Known dummy secrets: distinctive, so any leak (whole or in part) is found by substring.
const AWS = {
  accessKeyId: 'AKIAHARDENING0000001',
  secretAccessKey: 'hardening-aws-S3CR3T-7f3a9c0e-do-not-log',
  sessionToken: 'hardening-aws-T0KEN-41d2b8aa-do-not-log',
};
const ALI = {
  accessKeyId: 'LTAIhardening0000001',
  accessKeySecret: 'hardening-ali-S3CR3T-0b8e77f1-do-not-log',
  securityToken: 'hardening-ali-STS-T0KEN-93c1d2e4-do-not-log',
};
const WRONG_SECRET = 'hardening-WRONG-S3CR3T-5a5a5a5a-do-not-log';
const SECRETS = [AWS.secretAccessKey, AWS.sessionToken, ALI.accessKeySecret, ALI.securityToken, WRONG_SECRET];
/** The distinctive middle of each secret: a truncated or re-encoded leak still contains it. */
const FRAGMENTS = SECRETS.map((s) => s.split('-').find((part) => /\d/.test(part) && part.length >= 8) ?? s);

const ACCOUNT = '1234567890123456';
const FC_FUNCTION = 'atrest-cluster-kms';

/** Everything any part of the system wrote or threw. */
const texts: string[] = [];
const seen = (value: unknown) => {
  texts.push(typeof value === 'string' ? value : inspect(value, { depth: 20, showHidden: true }));
};
/** An error as a runtime prints it: message, stack, every own property, the whole cause chain. */
const thrown = (error: unknown) => {
  seen(error);
  seen(String(error));
  seen(JSON.stringify(error, Object.getOwnPropertyNames(error ?? {})));
};

const sample = (path: string) =>
  JSON.parse(readFileSync(new URL(`../../events/${path}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;

/** Every function, each through its test kit driver against an emulator that accepts only the dummies. */
const DRIVERS = allDrivers();
const ALI_DRIVERS = DRIVERS.filter((d) => manifestOf(d.id).cloud === 'alicloud');
const AWS_DRIVERS = DRIVERS.filter((d) => manifestOf(d.id).cloud === 'aws');
const driverOf = (id: string): Driver => {
  const d = ALI_DRIVERS.find((x) => x.id === id);
  if (!d) throw new Error(`no driver of ${id}`);
  return d;
};
/** Resource 7 of each driver: not one another describe block uses. */
const R = 7;

let fcEmu: FcEmulator;
let ots: RunningTablestore;
// The CLI asks STS (GetCallerIdentity) for its own account: those calls must not leak either.
let sts: CallerSts;
let dir: string;

beforeAll(async () => {
  const ali = [ALI];
  for (const d of AWS_DRIVERS) {
    await d.start({ credentials: [{ accessKeyId: AWS.accessKeyId, accessKeySecret: AWS.secretAccessKey }] });
    d.reset();
  }
  for (const d of ALI_DRIVERS) {
    await d.start({ credentials: ali });
    d.reset();
  }
  fcEmu = await startFc({ credentials: ali, functions: [FC_FUNCTION] });
  ots = await startTablestore({ credentials: ALI });
  sts = await startCallerSts({ aws: AWS, alicloudAccount: ACCOUNT, alicloud: ALI });
  dir = mkdtempSync(join(tmpdir(), 'atrest-secrets-'));

  vi.stubEnv('AWS_ACCESS_KEY_ID', AWS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', AWS.secretAccessKey);
  vi.stubEnv('AWS_SESSION_TOKEN', AWS.sessionToken);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  for (const [name, value] of Object.entries(endpoints())) vi.stubEnv(name, value);
  vi.stubEnv('AWS_ENDPOINT_URL_STS', sts.env.AWS_ENDPOINT_URL_STS);

  // Capture every line: console (vitest's) and the raw streams (Powertools Logger writes there).
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const)
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => seen(format(...args)));
  for (const stream of [process.stdout, process.stderr])
    vi.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
      seen(String(chunk));
      return true;
    });
});

afterAll(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await Promise.all([...DRIVERS.map((d) => d.stop()), fcEmu.stop(), ots.stop(), sts.stop()]);
});

describe.each(AWS_DRIVERS.map((d) => [d.id, d] as const))('%s: the Lambda handler', (_id, d) => {
  const config = { ...d.config(), retry: { maxAttempts: 2 } };
  const invoke = async (i: number, remediator?: AnyRemediator) => {
    // The module builds its own `handler` at import (Lambda init), from the process environment.
    vi.stubEnv('ATREST_CONFIG_JSON', JSON.stringify(config));
    const { createHandler } = await handlerModule(d.id);
    if (createHandler === undefined) throw new Error(`${d.id}: its handler.ts exports no createHandler`);
    const handler = createHandler({
      env: { ATREST_CONFIG_JSON: JSON.stringify(config) },
      logger: new Logger({ serviceName: 'atrest', logLevel: 'DEBUG' }),
      store: new MemoryIdempotencyStore(),
      engine: { sleep: async () => {} },
      ...(remediator ? { remediator } : {}),
    });
    try {
      seen(await handler(d.event(i), lambdaContext(d.id)));
    } catch (error) {
      thrown(error);
    }
  };

  it('success, denial, reset connection and a rejected signature leak no secret', async () => {
    for (const i of [1, 2, 3, 4]) d.seed(i);
    d.service.failNext(d.writeAction, { ...d.faults.denied, times: 1 });
    const before = texts.length;

    await invoke(2);
    d.service.failNext(d.readAction, { status: 0, code: 'ECONNRESET', transport: 'reset', times: 1 });
    await invoke(3);
    await invoke(1);
    // A client of its own, resolving its credentials at its first request: a wrong secret.
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', WRONG_SECRET);
    try {
      await invoke(4, d.remediator(d.url));
    } finally {
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', AWS.secretAccessKey);
    }

    const lines = texts.slice(before).join('\n');
    expect(lines).toContain('"outcome":"applied"');
    expect(lines).toContain(d.faults.denied.code);
    expect(lines).toMatch(/InvalidSignatureException|SignatureDoesNotMatch/);
    expect(d.encrypted(1)).toBe(true);
  });
});

/** Every function's endpoint variable, naming its driver's emulator. */
const endpoints = (): Record<string, string> => Object.assign({}, ...DRIVERS.map((d) => d.env()));

const aliEnv = (config: Config): Record<string, string> => ({
  ...endpoints(),
  ALIBABA_CLOUD_ENDPOINT_FC: fcEmu.url,
  ATREST_OTS_ENDPOINT: ots.endpoint,
  ATREST_OTS_INSTANCE: ots.instanceName,
  ATREST_OTS_TABLE: ots.tableName,
  ATREST_CONFIG_JSON: JSON.stringify({ ...config, retry: { maxAttempts: 2 } }),
});

const fcContext = (secret = ALI.accessKeySecret): FcContext => ({
  requestId: 'fc-req-secrets',
  credentials: { accessKeyId: ALI.accessKeyId, accessKeySecret: secret, securityToken: ALI.securityToken },
  function: { name: FC_FUNCTION, timeout: 60 },
  region: 'cn-hangzhou',
  accountId: ACCOUNT,
});

describe.each(ALI_DRIVERS.map((d) => [d.id, d] as const))('%s: the Function Compute adapter', (_id, d) => {
  const run = async (context: FcContext, overrides: Partial<FcHandlerOptions> = {}) => {
    const options = await fcOptionsOf(d.id);
    const handler = createFcHandler(
      options({
        env: { ...aliEnv(d.config()), ...d.env() },
        engine: { sleep: async () => {} },
        log: seen,
        ...overrides,
      }),
    );
    try {
      seen(await handler(Buffer.from(JSON.stringify(d.event(R))), context));
    } catch (error) {
      thrown(error);
    }
  };

  it('success, denial, reset, rejected signatures (service and store) leak no secret', async () => {
    ots.rows().clear();
    d.seed(R);
    const service = d.service;
    service.failNext(d.writeAction, { status: 403, code: 'Forbidden.RAM', times: 1 });
    const before = texts.length;

    await run(fcContext());
    service.failNext(d.writeAction, { status: 0, code: 'ECONNRESET', transport: 'reset', times: 1 });
    await run(fcContext());
    // A wrong secret: first the Tablestore store refuses it, then (memory store) the service does.
    await run(fcContext(WRONG_SECRET));
    await run(fcContext(WRONG_SECRET), { store: new MemoryIdempotencyStore() });

    const lines = texts.slice(before).join('\n');
    expect(lines).toContain('"outcome":"applied"');
    expect(lines).toContain('Forbidden.RAM');
    expect(lines).toContain('idempotency store');
    expect(lines).toMatch(/Signature|OTSAuthFailed/);
  });
});

describe('alicloud.cluster-kms: a re-queue through Function Compute', () => {
  it('signs InvokeFunction with the STS credentials and logs none of them', async () => {
    (driverOf('alicloud.cluster-kms') as Driver & { emulator: AckEmulator }).emulator.clusters.seed({
      clusterId: clusterId(8),
      state: 'initial',
    });
    const event = sample('alicloud/cluster-kms/create-cluster.json') as {
      data: { responseElements: Record<string, unknown> };
    };
    event.data.responseElements.cluster_id = clusterId(8);
    const handler = createFcHandler(
      (await fcOptionsOf('alicloud.cluster-kms'))({
        env: aliEnv({ alicloud: { clusterKms: { kmsKeyId: ACK_KEY } } }),
        store: new MemoryIdempotencyStore(),
        log: seen,
      }),
    );

    const outcomes: Outcome[] = await handler(Buffer.from(JSON.stringify(event)), fcContext());
    seen(outcomes);

    expect(outcomes[0]?.outcome).toBe('deferred');
    expect(fcEmu.state.drain()).toHaveLength(1);
  });
});

describe('atrest replay: NDJSON on stdout, logs on stderr', () => {
  it('every function, success and failure, leaks no secret', async () => {
    const config = { retry: { maxAttempts: 2 } } as Config & Record<string, Record<string, unknown>>;
    for (const d of DRIVERS) {
      const { cloud, section } = manifestOf(d.id);
      config[cloud] = { ...config[cloud], [section]: configSection(d.id, d.config()) };
    }
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const events = DRIVERS.map((d) => d.event(R));
    const eventsFile = join(dir, 'events.json');
    writeFileSync(eventsFile, JSON.stringify(events));
    for (const d of DRIVERS) d.seed(R);
    // The first one's write is denied, every try: a failure, with the service's own answer.
    const [denied] = ALI_DRIVERS as [Driver];
    denied.service.failNext(denied.writeAction, { ...denied.faults.denied, times: 9 });
    const out: string[] = [];
    const err: string[] = [];

    const code = await main(['replay', eventsFile, '--config', configFile], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: {
        ...process.env,
        ALIBABA_CLOUD_ACCESS_KEY_ID: ALI.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: ALI.accessKeySecret,
        ALIBABA_CLOUD_SECURITY_TOKEN: ALI.securityToken,
        ...endpoints(),
        ALIBABA_CLOUD_ENDPOINT_STS: sts.env.ALIBABA_CLOUD_ENDPOINT_STS,
      },
    });
    texts.push(...out, ...err);

    const lines = out.map((l) => JSON.parse(l) as Outcome);
    expect(code).toBe(1);
    expect(lines.map((l) => [l.function, l.outcome])).toEqual(
      DRIVERS.map((d) => [d.id, d === denied ? 'failed' : expect.stringMatching(/^(applied|compliant)$/)]),
    );
  });
});

describe('the verdict', () => {
  it('no secret key or security token appears anywhere', () => {
    // Something was captured from every part: outcome lines, errors, CLI output.
    expect(texts.length).toBeGreaterThan(20);
    const leaksIn = (all: string[]) =>
      all.flatMap((text, i) =>
        FRAGMENTS.filter((fragment) => text.includes(fragment)).map(
          (f) => `#${i} contains ${f}: ${text.slice(0, 300)}`,
        ),
      );
    const leaks = leaksIn(texts);
    // The detector itself finds a planted leak, whole or cut.
    expect(leaksIn([`x ${ALI.accessKeySecret.slice(5, -3)} y`, AWS.sessionToken])).toHaveLength(2);
    expect(leaks).toEqual([]);
  });
});
