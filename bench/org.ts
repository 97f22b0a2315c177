/**
 * Organization: creation events from many accounts and regions through the Lambda handler of
 * aws.log-group-kms (functions/aws/log-group-kms/handler.ts: routeByAccount, the credentials
 * cache, per-account clients, the ScopedRateLimiter), against CloudWatch Logs and STS emulated at
 * the wire. The emulator enforces the quota the way the cloud does: per account and region
 * (AssociateKmsKey `rate`/s, DescribeLogGroups `readRate`/s in every account-region).
 *
 * One account-region is noisy (`noisyShare` of all events); the rest are spread evenly. The floor
 * is the busiest account-region's events / rate: no schedule can beat it, and a noisy account
 * that starved the others would push the wall time past it. One handler instance serves every
 * event with `concurrency` in flight (an FC instance with instance concurrency, or the CLI; on
 * Lambda each instance has its own cache and limiter): it shares one credentials cache, so STS is
 * asked once per account per credential lifetime, and one ScopedRateLimiter.
 *
 * Checked at the wire: lost (a group left without the key, or an outcome other than applied),
 * doubled (a second successful AssociateKmsKey on one group), wrong account (a call made with a
 * key of another account than the group's, which the names encode), STS calls per account.
 */
import { performance } from 'node:perf_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { DUMMY_CREDENTIALS, startCloudWatchLogs } from '../test/emulator/cloudwatch-logs.ts';
import { AccountDirectory } from '../test/emulator/harness.ts';
import { startSts } from '../test/emulator/sts.ts';
import { type EventJson, sample } from './events.ts';
import { atMost, exactly, type Row } from './report.ts';

export const ORG_RATIO_TARGET = 1.2;

export interface OrgBenchOptions {
  events: number;
  accounts: number;
  regions: readonly string[];
  /** AssociateKmsKey per account-region per second. */
  rate: number;
  /** DescribeLogGroups per account-region per second. */
  readRate: number;
  /** Events in flight at once. */
  concurrency: number;
  /** Share of all events that go to one account-region. */
  noisyShare: number;
  /** Config `retry.maxAttempts` (the default is 8). */
  maxAttempts: number;
}

export const DEFAULT_ORG: OrgBenchOptions = {
  events: 10_000,
  accounts: 100,
  regions: ['us-east-1', 'eu-west-1'],
  // Low enough that the floor (busiest 400 events / 2 per s = 200 s) stays well above the CPU time
  // one process needs to sign and verify 30,000 calls on a small, shared machine. The write quota
  // is the one that binds; reads get 5x (two reads per event).
  rate: 2,
  readRate: 10,
  concurrency: 500,
  noisyShare: 0.04,
  maxAttempts: 20,
};

export interface OrgResult extends OrgBenchOptions {
  wallMs: number;
  busiest: { scope: string; events: number };
  floorMs: number;
  lost: number;
  doubled: number;
  wrongAccount: number;
  /** Most AssumeRole calls for one account. */
  stsMaxPerAccount: number;
  stsCalls: number;
  throttled: number;
  /** Throttled calls by API and whether they were the noisy account's. */
  throttledBy: Record<string, number>;
  /**
   * The busiest account-region's accepted writes: seconds from the start to the first and the
   * last, and how many. Their rate between the two against the quota says whether the limiter
   * or the tail (the last events' verify reads) costs the time above the floor.
   */
  busiestWrites: { firstS: number; lastS: number; ok: number };
  outcomes: Record<string, number>;
  errors: Record<string, number>;
}

const ROLE = 'atrest-member';
const CENTRAL = '100000000000';
const accountId = (i: number): string => String(200000000000 + i);
const keyOf = (region: string): string =>
  `arn:aws:kms:${region}:${CENTRAL}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

const tally = (values: string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
};

/**
 * Event i's account and region: every k-th event goes to the noisy account-region (it keeps
 * creating all along, as a noisy account does), the others round-robin over every account-region.
 */
function placement(i: number, o: OrgBenchOptions): { account: string; region: string } {
  const every = Math.max(1, Math.round(1 / Math.max(o.noisyShare, 1e-9)));
  const scopes = o.accounts * o.regions.length;
  const s = o.noisyShare > 0 && i % every === 0 ? 0 : i % scopes;
  return { account: accountId(s % o.accounts), region: o.regions[Math.floor(s / o.accounts)] ?? 'us-east-1' };
}

export async function measureOrg(options: OrgBenchOptions = DEFAULT_ORG): Promise<OrgResult> {
  const directory = new AccountDirectory(CENTRAL);
  const cw = await startCloudWatchLogs({ accounts: directory, account: CENTRAL });
  const sts = await startSts(directory);
  const saved = {
    logs: process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS,
    sts: process.env.AWS_ENDPOINT_URL_STS,
  };
  try {
    process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = cw.service.url;
    process.env.AWS_ENDPOINT_URL_STS = sts.url;
    process.env.AWS_ACCESS_KEY_ID = DUMMY_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = DUMMY_CREDENTIALS.secretAccessKey;
    cw.service.rateLimit('AssociateKmsKey', options.rate, { perScope: true });
    cw.service.rateLimit('DescribeLogGroups', options.readRate, { perScope: true });

    const events: EventJson[] = [];
    const groups: { account: string; region: string; name: string }[] = [];
    for (let a = 0; a < options.accounts; a++) {
      sts.seedRole(accountId(a), ROLE);
      for (const region of options.regions) cw.stateOf(accountId(a), region).seedKey(keyOf(region));
    }
    for (let i = 0; i < options.events; i++) {
      const { account, region } = placement(i, options);
      const name = `/bench/org/${account}/${region}/${String(i).padStart(5, '0')}`;
      cw.stateOf(account, region).seedLogGroup(name);
      groups.push({ account, region, name });
      const e = sample('aws/log-group-kms/create-log-group.json');
      e.id = `org-${i}`;
      e.account = account;
      e.region = region;
      e.detail.awsRegion = region;
      e.detail.recipientAccountId = account;
      e.detail.eventID = `org-trail-${i}`;
      e.detail.requestParameters.logGroupName = name;
      events.push(e);
    }
    const perScope = tally(groups.map((g) => `${g.account}/${g.region}`));
    const [busiestScope = '', busiestEvents = 0] =
      Object.entries(perScope).sort((x, y) => y[1] - x[1])[0] ?? [];

    const byRegion = Object.fromEntries(options.regions.map((r) => [r, keyOf(r)]));
    const configJson = JSON.stringify({
      aws: {
        organization: { memberRoleName: ROLE, regions: options.regions },
        logGroupKms: { kmsKeyArn: keyOf('us-east-1'), byRegion },
      },
      // The noisy account-region's calls queue behind its quota for minutes; a throttled call
      // spends one try. The default 8 tries lose a few of them to throttling (they would go to
      // Lambda's retry and the dead letter); an organization with a noisy account raises it.
      retry: { maxAttempts: options.maxAttempts },
    });
    // The module builds its default handler at import (Lambda init), from the environment.
    process.env.ATREST_CONFIG_JSON ??= configJson;
    const { createHandler, UnsettledOutcomeError } = await import(
      '../functions/aws/log-group-kms/handler.ts'
    );
    const handler = createHandler({
      env: { AWS_REGION: 'us-east-1', ATREST_CONFIG_JSON: configJson },
      logger: new Logger({ serviceName: 'atrest', logLevel: 'SILENT' }),
      store: new MemoryIdempotencyStore(),
    });
    const context = (i: number) =>
      ({
        functionName: 'atrest-log-group-kms',
        awsRequestId: `bench-${i}`,
        invokedFunctionArn: `arn:aws:lambda:us-east-1:${CENTRAL}:function:atrest-log-group-kms`,
        getRemainingTimeInMillis: () => 900_000,
      }) as unknown as Context;

    const outcomes: Outcome[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < events.length; i = next++) {
        try {
          outcomes.push(...(await handler(events[i], context(i))));
        } catch (error) {
          if (error instanceof UnsettledOutcomeError) outcomes.push(...error.outcomes);
          else throw error;
        }
      }
    };
    const start = Date.now();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: Math.min(options.concurrency, events.length) }, worker));
    const wallMs = performance.now() - t0;

    const calls = cw.service.calls;
    const okWrites = calls.filter((c) => c.action === 'AssociateKmsKey' && c.status < 400);
    const writesPer = tally(okWrites.map((c) => `${c.account}|${c.resource}`));
    const busiestOk = okWrites
      .filter((c) => c.resource?.startsWith(`/bench/org/${busiestScope}/`))
      .map((c) => (c.at - start) / 1000);
    const doubled = Object.values(writesPer).reduce((sum, n) => sum + Math.max(0, n - 1), 0);
    // A group's name says whose it is: any call for it made with another account's key is wrong.
    const wrongAccount = calls.filter((c) => {
      const owner = /^\/bench\/org\/(\d{12})\//.exec(c.resource ?? '')?.[1];
      return owner !== undefined && c.account !== owner;
    }).length;
    const unencrypted = groups.filter(
      (g) => cw.stateOf(g.account, g.region).logGroup(g.name)?.kmsKeyId !== keyOf(g.region),
    ).length;
    const notApplied =
      outcomes.filter((o) => o.outcome !== 'applied').length + (events.length - outcomes.length);
    const assumed = tally(
      sts.service.calls
        .filter((c) => c.action === 'AssumeRole' && c.status < 400)
        .map((c) => c.account ?? ''),
    );
    return {
      ...options,
      wallMs,
      busiest: { scope: busiestScope, events: busiestEvents },
      floorMs: (busiestEvents / options.rate) * 1000,
      lost: Math.max(unencrypted, notApplied),
      doubled,
      wrongAccount,
      stsMaxPerAccount: Math.max(0, ...Object.values(assumed)),
      stsCalls: Object.values(assumed).reduce((a, b) => a + b, 0),
      throttled: calls.filter((c) => c.status >= 400).length,
      throttledBy: tally(
        calls
          .filter((c) => c.status >= 400)
          .map((c) => `${c.action} ${c.account === accountId(0) ? 'noisy account' : 'others'}`),
      ),
      busiestWrites: {
        firstS: Math.min(...busiestOk),
        lastS: Math.max(...busiestOk),
        ok: busiestOk.length,
      },
      outcomes: tally(outcomes.map((o) => o.outcome)),
      errors: tally(outcomes.filter((o) => o.error).map((o) => `${o.error?.code}`)),
    };
  } finally {
    if (saved.logs === undefined) delete process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS;
    else process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = saved.logs;
    if (saved.sts === undefined) delete process.env.AWS_ENDPOINT_URL_STS;
    else process.env.AWS_ENDPOINT_URL_STS = saved.sts;
    await Promise.all([cw.service.stop(), sts.stop()]);
  }
}

export function orgRows(r: OrgResult): Row[] {
  const base = { section: 'org', subject: 'aws.log-group-kms' } as const;
  const what = `${r.events} events, ${r.accounts} accounts × ${r.regions.length} regions, AssociateKmsKey ${r.rate}/s per account-region; busiest ${r.busiest.events} events`;
  return [
    atMost(
      { ...base, metric: `wall time (${what})`, value: r.wallMs / 1000, unit: 's', floor: r.floorMs / 1000 },
      ORG_RATIO_TARGET,
    ),
    exactly({ ...base, metric: 'events lost', value: r.lost, unit: '' }, 0),
    exactly({ ...base, metric: 'writes doubled', value: r.doubled, unit: '' }, 0),
    exactly(
      { ...base, metric: "calls with the wrong account's credentials", value: r.wrongAccount, unit: '' },
      0,
    ),
    atMost(
      {
        ...base,
        metric: 'STS AssumeRole per account (credential lifetime 1 h)',
        value: r.stsMaxPerAccount,
        unit: '',
      },
      1,
      0,
    ),
  ];
}
