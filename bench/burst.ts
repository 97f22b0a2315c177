/**
 * Burst: a batch of creation events delivered at once against an emulator that enforces a
 * per-API rate limit, run through the engine with the real retry policy (DEFAULT_RETRY: full
 * jitter) and one shared in-memory idempotency store (standing in for DynamoDB / Tablestore).
 *
 * Concurrency is modelled explicitly: `concurrency` workers, each one function instance handling
 * one event at a time (Lambda and FC 3.0 with instance concurrency 1), take events from one queue
 * — the platform's async queue — until it is empty. Each invocation gets the deployed timeout as
 * its budget (`remainingMs`). The floor is `events / rate`: the time the write quota alone
 * needs. Lost = events not ending `applied` (or resources left unencrypted); doubled = successful
 * writes beyond the first on one resource.
 *
 * Two set-ups: `adaptive` — what the handlers deploy: each instance wraps the remediator in its
 * own AdaptiveRateLimiter (functions/core/ratelimit.ts), kept across the invocations that instance
 * serves; `none` — retries only, for comparison (context rows, no target): it shows why the
 * limiter is there.
 */
import { performance } from 'node:perf_hooks';
import { remediateEvent } from '#core/engine';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { AdaptiveRateLimiter, withRateLimit } from '#core/ratelimit';
import type { Remediator } from '#core/remediator';
import { createRemediator as createLogstoreEncryption } from '../functions/alicloud/logstore-encryption/remediator.ts';
import { createRemediator as createLogGroupKms } from '../functions/aws/log-group-kms/remediator.ts';
import type { Config } from '../functions/config.ts';
import type { FunctionId } from '../infra/functions.ts';
import { EMULATOR_CREDENTIALS } from '../test/emulator/acs3.ts';
import type { EmulatedService } from '../test/emulator/harness.ts';
import { startSls } from '../test/emulator/sls.ts';
import { AWS_KEY, cloudWatchLogs } from './aws-emulator.ts';
import { type EventJson, sample } from './events.ts';
import { atMost, exactly, type Row } from './report.ts';

/** DESIGN.md: all remediated, none lost, total time within 1.2x of count / rate. */
export const BURST_RATIO_TARGET = 1.2;

export interface BurstOptions {
  events: number;
  /** Write API limit, calls per second (the emulator's sliding one-second window). */
  rate: number;
  /** Read API limit, calls per second. */
  readRate: number;
  /** Function instances working at once. */
  concurrency: number;
  /** `adaptive`: each instance paces its calls with its own AdaptiveRateLimiter (functions/core/ratelimit.ts). */
  limiter: 'none' | 'adaptive';
}

export interface BurstResult extends BurstOptions {
  id: FunctionId;
  writeApi: string;
  readApi: string;
  wallMs: number;
  /** events / rate, in ms. */
  floorMs: number;
  lost: number;
  doubled: number;
  outcomes: Record<string, number>;
  /** Error code and message of each failed outcome, counted. */
  errors: Record<string, number>;
  /** Calls the emulator answered with its throttling error, by API. */
  throttled: Record<string, number>;
  /** Calls answered normally, by API. */
  served: Record<string, number>;
  /** Invocation timeout the workers were given (the deployed function's). */
  timeoutMs: number;
}

interface BurstFixture {
  id: FunctionId;
  writeApi: string;
  readApi: string;
  service: EmulatedService;
  // biome-ignore lint/suspicious/noExplicitAny: each function has its own Target/Desired/State types.
  remediator: Remediator<any, any, any>;
  config: Config;
  timeoutMs: number;
  /** Seeds resource `i` (unencrypted) and returns its creation event. */
  create(i: number): EventJson;
  /** Whether resource `i` ended encrypted as configured. */
  encrypted(i: number): boolean;
  /** The emulator's resource id for resource `i` (as in its request log). */
  resourceOf(i: number): string;
  stop(): Promise<void>;
}

let runSeq = 0;
const pad = (i: number) => String(i).padStart(5, '0');

async function awsBurst(): Promise<BurstFixture> {
  const { service, state } = await cloudWatchLogs();
  runSeq += 1;
  const name = (i: number) => `/bench/burst/run${runSeq}/group-${pad(i)}`;
  return {
    id: 'aws.log-group-kms',
    writeApi: 'AssociateKmsKey',
    readApi: 'DescribeLogGroups',
    service,
    remediator: createLogGroupKms(),
    config: { aws: { logGroupKms: { kmsKeyArn: AWS_KEY } } },
    // infra/aws/lib/atrest-stack.ts deploys the function with a five-minute timeout.
    timeoutMs: 300_000,
    create(i) {
      state.seedLogGroup(name(i));
      const e = sample('aws/log-group-kms/create-log-group.json');
      e.id = `burst-${runSeq}-${pad(i)}`;
      e.detail.requestParameters.logGroupName = name(i);
      return e;
    },
    encrypted: (i) => state.logGroup(name(i))?.kmsKeyId === AWS_KEY,
    resourceOf: name,
    stop: async () => {},
  };
}

async function slsBurst(): Promise<BurstFixture> {
  const sls = await startSls();
  const project = 'burst-logs';
  const logstore = (i: number) => `store-${pad(i)}`;
  return {
    id: 'alicloud.logstore-encryption',
    writeApi: 'UpdateLogStoreEncryption',
    readApi: 'GetLogStore',
    service: sls.service,
    remediator: createLogstoreEncryption({
      credentials: () => EMULATOR_CREDENTIALS,
      env: { ALIBABA_CLOUD_ENDPOINT_SLS: sls.url },
    }),
    config: { alicloud: { logstoreEncryption: { encryptType: 'default' } } },
    // infra/alicloud/atrest-stack.ts: FC timeout 60 s.
    timeoutMs: 60_000,
    create(i) {
      sls.state.seedLogstore(project, logstore(i));
      const e = sample('alicloud/logstore-encryption/create-logstore.json');
      e.id = `burst-${pad(i)}`;
      e.data.requestParameters.ProjectName = project;
      e.data.requestParameters.logstoreName = logstore(i);
      e.data.referencedResources['ACS::SLS::LogStore'] = [`${project}/${logstore(i)}`];
      return e;
    },
    encrypted: (i) => sls.state.logstore(project, logstore(i))?.encrypt_conf?.enable === true,
    resourceOf: (i) => `${project}/${logstore(i)}`,
    stop: () => sls.stop(),
  };
}

export const BURST_FUNCTIONS = ['aws.log-group-kms', 'alicloud.logstore-encryption'] as const;
export type BurstFunction = (typeof BURST_FUNCTIONS)[number];

const FIXTURES: Record<BurstFunction, () => Promise<BurstFixture>> = {
  'aws.log-group-kms': awsBurst,
  'alicloud.logstore-encryption': slsBurst,
};

const tally = (values: Iterable<string>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
};

export async function measureBurst(id: BurstFunction, options: BurstOptions): Promise<BurstResult> {
  const f = await FIXTURES[id]();
  try {
    const events = Array.from({ length: options.events }, (_, i) => f.create(i));
    const store = new MemoryIdempotencyStore();
    f.service.resetLog();
    f.service.clearFaults();
    f.service.rateLimit(f.writeApi, options.rate).rateLimit(f.readApi, options.readRate);

    const outcomes: Outcome[] = [];
    let next = 0;
    const worker = async () => {
      // One limiter per instance, kept across the invocations it serves (module scope in a handler).
      const remediator =
        options.limiter === 'adaptive'
          ? withRateLimit(f.remediator, new AdaptiveRateLimiter())
          : f.remediator;
      for (let i = next++; i < events.length; i = next++) {
        const started = Date.now();
        const result = await remediateEvent(remediator, events[i], {
          config: f.config,
          store,
          remainingMs: () => f.timeoutMs - (Date.now() - started),
        });
        outcomes.push(...result);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: Math.min(options.concurrency, events.length) }, worker));
    const wallMs = performance.now() - t0;
    f.service.clearFaults();

    const calls = f.service.calls;
    // The only error this set-up produces is the rate limit's: every refused call is a throttle.
    const refused = (c: (typeof calls)[number]) => c.status >= 400;
    const okWrites = calls.filter((c) => c.action === f.writeApi && c.status < 400);
    const writesPer = tally(okWrites.map((c) => c.resource ?? ''));
    const doubled = Object.values(writesPer).reduce((sum, n) => sum + Math.max(0, n - 1), 0);
    const unencrypted = events.filter((_, i) => !f.encrypted(i)).length;
    const notApplied =
      outcomes.filter((o) => o.outcome !== 'applied').length + (events.length - outcomes.length);
    return {
      ...options,
      id: f.id,
      writeApi: f.writeApi,
      readApi: f.readApi,
      wallMs,
      floorMs: (options.events / options.rate) * 1000,
      lost: Math.max(unencrypted, notApplied),
      doubled,
      outcomes: tally(outcomes.map((o) => o.outcome)),
      errors: tally(
        outcomes.filter((o) => o.error).map((o) => `${o.error?.code}: ${o.error?.message}`.slice(0, 160)),
      ),
      throttled: tally(calls.filter(refused).map((c) => c.action)),
      served: tally(calls.filter((c) => !refused(c)).map((c) => c.action)),
      timeoutMs: f.timeoutMs,
    };
  } finally {
    await f.stop();
  }
}

/** How the rows name the two set-ups. */
export const LIMITER_LABEL: Record<BurstOptions['limiter'], string> = {
  none: 'comparison, retries only (not deployed)',
  adaptive: 'adaptive limiter',
};

export function burstRows(results: readonly BurstResult[]): Row[] {
  return results.flatMap((r) => {
    const label = LIMITER_LABEL[r.limiter];
    if (r.limiter === 'none') {
      // The comparison run is context: what would happen without the limiter the handlers use.
      const what = `${r.events} events, ${r.concurrency} instances`;
      const base = { section: 'burst', subject: r.id } as const;
      return [
        {
          ...base,
          metric: `${label}: wall time (${what})`,
          value: r.wallMs / 1000,
          unit: 's',
          floor: r.floorMs / 1000,
          ratio: r.wallMs / r.floorMs,
        },
        { ...base, metric: `${label}: events lost`, value: r.lost, unit: '' },
        { ...base, metric: `${label}: writes doubled`, value: r.doubled, unit: '' },
      ];
    }
    const what = `${r.events} events; ${r.writeApi} ${r.rate}/s, ${r.readApi} ${r.readRate}/s; ${r.concurrency} instances`;
    const base = { section: 'burst', subject: r.id } as const;
    return [
      atMost(
        {
          ...base,
          metric: `${label}: wall time (${what})`,
          value: r.wallMs / 1000,
          unit: 's',
          floor: r.floorMs / 1000,
        },
        BURST_RATIO_TARGET,
      ),
      exactly({ ...base, metric: `${label}: events lost`, value: r.lost, unit: '' }, 0),
      exactly({ ...base, metric: `${label}: writes doubled`, value: r.doubled, unit: '' }, 0),
    ];
  });
}
