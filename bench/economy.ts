/**
 * API economy: the cloud API calls each outcome costs, counted by the emulator at the wire. Every
 * function runs its own sample event through the engine with its real remediator and client;
 * between scenarios the resource is re-seeded and the emulator's request log cleared.
 *
 * Budgets (DESIGN.md "Budgets"): non-compliant → applied ≤ 3 (read, write, verify); compliant 1;
 * duplicate 0; excluded, ignored and rejected 0. Idempotency is the in-memory store here, so the
 * counts are cloud API calls only (the deployed store adds its own conditional writes).
 */

import { remediateEvent } from '#core/engine';
import { MemoryIdempotencyStore } from '#core/idempotency';
import type { OutcomeKind } from '#core/outcome';
import type { Remediator } from '#core/remediator';
import { createRemediator as createClusterKms } from '../functions/alicloud/cluster-kms/remediator.ts';
import { createRemediator as createDiskDefaultKms } from '../functions/alicloud/disk-default-kms/remediator.ts';
import { createRemediator as createLogstoreEncryption } from '../functions/alicloud/logstore-encryption/remediator.ts';
import { createRemediator as createTableBucketEncryption } from '../functions/alicloud/table-bucket-encryption/remediator.ts';
import { createRemediator as createLogGroupKms } from '../functions/aws/log-group-kms/remediator.ts';
import type { Config } from '../functions/config.ts';
import type { FunctionId } from '../infra/functions.ts';
import { startAck } from '../test/emulator/ack.ts';
import { EMULATOR_CREDENTIALS } from '../test/emulator/acs3.ts';
import { startEcs } from '../test/emulator/ecs.ts';
import type { EmulatedService } from '../test/emulator/harness.ts';
import { startOssTables } from '../test/emulator/oss-tables.ts';
import { startSls } from '../test/emulator/sls.ts';
import { AWS_KEY, cloudWatchLogs } from './aws-emulator.ts';
import { type EventJson, sample } from './events.ts';
import type { Row } from './report.ts';

export const SCENARIOS = [
  'non-compliant',
  'compliant',
  'duplicate',
  'excluded',
  'ignored',
  'rejected',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** The outcome each scenario must end in, and the most API calls it may cost. */
export const BUDGET: Record<Scenario, { outcome: OutcomeKind; calls: number }> = {
  'non-compliant': { outcome: 'applied', calls: 3 },
  compliant: { outcome: 'compliant', calls: 1 },
  duplicate: { outcome: 'duplicate', calls: 0 },
  excluded: { outcome: 'excluded', calls: 0 },
  ignored: { outcome: 'ignored', calls: 0 },
  rejected: { outcome: 'rejected', calls: 0 },
};

export interface EconomyResult {
  id: FunctionId;
  scenario: Scenario;
  outcome: OutcomeKind | 'none';
  calls: number;
  /** Calls by API action, for the report. */
  actions: Record<string, number>;
  budget: number;
  pass: boolean;
}

/** What the benchmark needs to know about one function to run its scenarios. */
interface Fixture {
  id: FunctionId;
  service: EmulatedService;
  // biome-ignore lint/suspicious/noExplicitAny: each function has its own Target/Desired/State types.
  remediator: Remediator<any, any, any>;
  config: Config;
  /** The same config with an exclude pattern that matches the sample's resource; absent: no such option. */
  excluding?: Config;
  event: () => EventJson;
  /** Marks the sample's creation call as failed (what ActionTrail/CloudTrail record on an error). */
  failed: (event: EventJson) => void;
  /** Removes what the parser needs, as a truncated delivery would. */
  malformed: (event: EventJson) => void;
  seedNonCompliant: () => void;
  seedCompliant: () => void;
  stop: () => Promise<void>;
}

const ALI_KEY = 'key-hzz6a1b2c3d4e5f6g7h8i';
const OTHER_ALI_KEY = 'key-hzz6zzzzzzzzzzzzzzzzz';
const credentials = () => EMULATOR_CREDENTIALS;
const aliFailed = (code: string) => (e: EventJson) => {
  e.data.errorCode = code;
  e.data.errorMessage = 'injected by the benchmark';
};
const aliMalformed = (e: EventJson) => {
  delete e.data;
};

async function awsFixture(): Promise<Fixture> {
  const { service, state } = await cloudWatchLogs();
  const name = '/bench/economy/orders-api';
  const event = () => {
    const e = sample('aws/log-group-kms/create-log-group.json');
    e.detail.requestParameters.logGroupName = name;
    return e;
  };
  return {
    id: 'aws.log-group-kms',
    service,
    remediator: createLogGroupKms(),
    config: { aws: { logGroupKms: { kmsKeyArn: AWS_KEY } } },
    excluding: { aws: { logGroupKms: { kmsKeyArn: AWS_KEY, exclude: ['^/bench/economy/'] } } },
    event,
    failed: (e) => {
      e.detail.errorCode = 'ResourceAlreadyExistsException';
      e.detail.errorMessage = 'The specified log group already exists';
    },
    malformed: (e) => {
      delete e.detail;
    },
    seedNonCompliant: () => state.seedLogGroup(name),
    seedCompliant: () => state.seedLogGroup(name, AWS_KEY),
    // Shared with the burst section: stopped by the runner.
    stop: async () => {},
  };
}

async function slsFixture(): Promise<Fixture> {
  const sls = await startSls();
  const [project, logstore] = ['app-logs-prod', 'access-log'];
  return {
    id: 'alicloud.logstore-encryption',
    service: sls.service,
    remediator: createLogstoreEncryption({ credentials, env: { ALIBABA_CLOUD_ENDPOINT_SLS: sls.url } }),
    config: { alicloud: { logstoreEncryption: { encryptType: 'default' } } },
    excluding: { alicloud: { logstoreEncryption: { encryptType: 'default', exclude: ['^app-logs-prod/'] } } },
    event: () => sample('alicloud/logstore-encryption/create-logstore.json'),
    failed: aliFailed('LogStoreAlreadyExist'),
    malformed: aliMalformed,
    seedNonCompliant: () => void sls.state.seedLogstore(project, logstore),
    seedCompliant: () =>
      void sls.state.seedLogstore(project, logstore, { enable: true, encrypt_type: 'default' }),
    stop: () => sls.stop(),
  };
}

async function ackFixture(): Promise<Fixture> {
  const ack = await startAck();
  const clusterId = 'c3f1e8a6b2c4d4e5f9a0b1c2d3e4f5a6b';
  return {
    id: 'alicloud.cluster-kms',
    service: ack.service,
    remediator: createClusterKms({ credentials, env: { ALIBABA_CLOUD_ENDPOINT_CS: ack.url } }),
    config: { alicloud: { clusterKms: { kmsKeyId: ALI_KEY } } },
    excluding: { alicloud: { clusterKms: { kmsKeyId: ALI_KEY, exclude: ['^prod-payments$'] } } },
    event: () => sample('alicloud/cluster-kms/create-cluster.json'),
    failed: aliFailed('ErrorQueryVpc'),
    malformed: aliMalformed,
    // A fresh cluster each time: the emulator answers 409 to a second update within five minutes.
    seedNonCompliant: () => void ack.clusters.seed({ clusterId }),
    seedCompliant: () => void ack.clusters.seed({ clusterId, kmsKeyId: ALI_KEY, disableEncryption: false }),
    stop: () => ack.stop(),
  };
}

async function ossTablesFixture(): Promise<Fixture> {
  const oss = await startOssTables();
  const name = 'analytics-tables';
  return {
    id: 'alicloud.table-bucket-encryption',
    service: oss.service,
    remediator: createTableBucketEncryption({
      credentials,
      env: { ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: oss.url },
    }),
    config: { alicloud: { tableBucketEncryption: { sseAlgorithm: 'AES256' } } },
    excluding: { alicloud: { tableBucketEncryption: { sseAlgorithm: 'AES256', exclude: ['^analytics-'] } } },
    event: () => sample('alicloud/table-bucket-encryption/create-table-bucket.json'),
    failed: aliFailed('BucketAlreadyExists'),
    malformed: aliMalformed,
    seedNonCompliant: () => void oss.state.seedBucket(name),
    seedCompliant: () => void oss.state.seedBucket(name, { encryption: { sseAlgorithm: 'AES256' } }),
    stop: () => oss.stop(),
  };
}

async function ecsFixture(): Promise<Fixture> {
  const ecs = await startEcs();
  const region = 'cn-hangzhou';
  ecs.state.seedKey(region, ALI_KEY);
  ecs.state.seedKey(region, OTHER_ALI_KEY);
  return {
    id: 'alicloud.disk-default-kms',
    service: ecs.service,
    remediator: createDiskDefaultKms({
      credentials,
      account: '1234567890123456',
      env: { ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url },
    }),
    config: { alicloud: { diskDefaultKms: { kmsKeyId: ALI_KEY } } },
    // No exclude option: the setting is one per account and region.
    event: () => sample('alicloud/disk-default-kms/enable-disk-encryption-by-default.json'),
    failed: aliFailed('Forbidden.RAM'),
    malformed: aliMalformed,
    // Someone turned default encryption on with the ECS service key (or another key): drift.
    seedNonCompliant: () => ecs.state.seedRegion(region, { encrypted: true, kmsKeyId: OTHER_ALI_KEY }),
    seedCompliant: () => ecs.state.seedRegion(region, { encrypted: true, kmsKeyId: ALI_KEY }),
    stop: () => ecs.stop(),
  };
}

const FIXTURES: Record<FunctionId, () => Promise<Fixture>> = {
  'aws.log-group-kms': awsFixture,
  'alicloud.logstore-encryption': slsFixture,
  'alicloud.cluster-kms': ackFixture,
  'alicloud.table-bucket-encryption': ossTablesFixture,
  'alicloud.disk-default-kms': ecsFixture,
};

async function runScenarios(f: Fixture): Promise<EconomyResult[]> {
  const results: EconomyResult[] = [];
  // Kept across non-compliant → duplicate: the second delivery of the same event.
  let store = new MemoryIdempotencyStore();
  for (const scenario of SCENARIOS) {
    if (scenario !== 'duplicate') store = new MemoryIdempotencyStore();
    const event = f.event();
    let config = f.config;
    if (scenario === 'compliant') f.seedCompliant();
    else if (scenario !== 'duplicate') f.seedNonCompliant();
    if (scenario === 'excluded') {
      if (!f.excluding) continue;
      config = f.excluding;
    }
    if (scenario === 'ignored') f.failed(event);
    if (scenario === 'rejected') f.malformed(event);

    f.service.resetLog();
    const outcomes = await remediateEvent(f.remediator, event, {
      config,
      store,
      // Nothing here should retry; if something does, it must not slow the benchmark down.
      sleep: async () => {},
    });
    const actions: Record<string, number> = {};
    for (const call of f.service.calls) actions[call.action] = (actions[call.action] ?? 0) + 1;
    const calls = f.service.calls.length;
    const outcome = outcomes[0]?.outcome ?? 'none';
    const budget = BUDGET[scenario];
    results.push({
      id: f.id,
      scenario,
      outcome,
      calls,
      actions,
      budget: budget.calls,
      pass: outcomes.length === 1 && outcome === budget.outcome && calls <= budget.calls,
    });
  }
  return results;
}

export async function measureEconomy(ids: readonly FunctionId[]): Promise<EconomyResult[]> {
  const results: EconomyResult[] = [];
  for (const id of ids) {
    const make = FIXTURES[id];
    if (make === undefined) throw new Error(`${id}: no fixture in bench/economy.ts`);
    const fixture = await make();
    try {
      results.push(...(await runScenarios(fixture)));
    } finally {
      await fixture.stop();
    }
  }
  return results;
}

export function economyRows(results: readonly EconomyResult[]): Row[] {
  return results.map((r) => {
    const expected = BUDGET[r.scenario].outcome;
    const got = r.outcome === expected ? expected : `${r.outcome}, expected ${expected}`;
    const detail = Object.entries(r.actions)
      .map(([action, n]) => `${n} ${action}`)
      .join(' + ');
    return {
      section: 'economy',
      subject: r.id,
      metric: `API calls: ${r.scenario} → ${got}${detail ? ` (${detail})` : ''}`,
      value: r.calls,
      unit: 'calls',
      target: r.budget === 0 ? '= 0' : `<= ${r.budget}`,
      pass: r.pass,
    };
  });
}
