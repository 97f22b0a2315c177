/**
 * The offline tour: starts the emulator (CloudWatch Logs, SLS, ACK, ECS, OSS Tables, Function
 * Compute) on loopback, seeds resources, then delivers every sample event in events/ to the
 * deployed entry points (the Lambda handler and the four Function Compute handlers), exactly as the
 * clouds would. Prints before -> action -> after per event, then checks that every resource ended
 * with the configured encryption. No cloud account, no network beyond loopback.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import type { Outcome } from '../functions/core/outcome.ts';
import { startAck } from '../test/emulator/ack.ts';
import { EMULATOR_CREDENTIALS } from '../test/emulator/acs3.ts';
import { DUMMY_CREDENTIALS, startCloudWatchLogs } from '../test/emulator/cloudwatch-logs.ts';
import { startEcs } from '../test/emulator/ecs.ts';
import { startFc } from '../test/emulator/fc.ts';
import type { EmulatedService } from '../test/emulator/harness.ts';
import { startOssTables } from '../test/emulator/oss-tables.ts';
import { startSls } from '../test/emulator/sls.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ACCOUNT = '1234567890123456';
const REGION = 'cn-hangzhou';
const AWS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OLD_AWS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000';
const ALI_KEY = 'key-hzz6c1f2b3a4d5e6f7g8h';
const DRIFT_KEY = '0e478b7a-4262-4802-b8cb-00d3fb40beef';
const CLUSTER = 'c3f1e8a6b2c4d4e5f9a0b1c2d3e4f5a6b';
/** The cluster of events/alicloud/cluster-kms/create-cluster.console.json (bought in the console). */
const CONSOLE_CLUSTER = 'c4a2f9b7c3d5e5f6a0b1c2d3e4f5a6b7c';
/** The trail logstore of events/alicloud/logstore-encryption/create-logstore.sls-trigger.json. */
const TRAIL = { project: 'atrest-trail-1234567890123456', logstore: 'actiontrail_atrest-trail' };

/**
 * A sample event, played as if it happened now: idempotency compares when an event was observed
 * with when the last completed run began, so a drift sample dated before this demo's own writes
 * would (rightly) be taken as already handled. The same sample loaded again keeps its first time:
 * it is a redelivery.
 */
const stamps = new Map<string, string>();
const event = (path: string): object => {
  const e = JSON.parse(readFileSync(join(ROOT, 'events', path), 'utf8')) as Record<string, unknown> & {
    detail?: Record<string, unknown>;
    data?: Record<string, unknown>;
  };
  const at = stamps.get(path) ?? new Date(Date.now() + 1).toISOString();
  stamps.set(path, at);
  if (typeof e.time === 'string') e.time = at;
  if (typeof e.triggerTime === 'string') e.triggerTime = at;
  if (typeof e.detail?.eventTime === 'string') e.detail.eventTime = at;
  if (typeof e.data?.eventTime === 'string') e.data.eventTime = at;
  return e;
};
const short = (key: string | undefined): string => {
  if (key === undefined || key === '') return 'none';
  const id = key.startsWith('arn:') ? `key/${key.split('/').pop()}` : key;
  return id.length > 14 ? `${id.slice(0, 12)}…` : id;
};

interface Row {
  fn: string;
  resource: string;
  before: string;
  action: string;
  after: string;
  outcome: string;
  note?: string;
}

export async function runDemo(
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<number> {
  const config = JSON.parse(readFileSync(join(ROOT, 'infra', 'example-config.json'), 'utf8'));
  const logs = await startCloudWatchLogs({ region: 'us-east-1', account: '111122223333' });
  const sls = await startSls();
  const ack = await startAck();
  const ecs = await startEcs();
  const tables = await startOssTables();
  const fc = await startFc({ functions: ['atrest-cluster-kms'] });
  const services: EmulatedService[] = [
    logs.service,
    sls.service,
    ack.service,
    ecs.service,
    tables.service,
    fc.service,
  ];

  // The functions find the emulator only through the documented endpoint variables (CONTRACT §4).
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.service.url,
    ALIBABA_CLOUD_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: EMULATOR_CREDENTIALS.accessKeySecret,
    ALIBABA_CLOUD_ENDPOINT_SLS: sls.url,
    ALIBABA_CLOUD_ENDPOINT_CS: ack.url,
    ALIBABA_CLOUD_ENDPOINT_ECS: ecs.url,
    ALIBABA_CLOUD_ENDPOINT_OSS_TABLES: tables.url,
    ALIBABA_CLOUD_ENDPOINT_FC: fc.url,
    ATREST_CONFIG_JSON: JSON.stringify(config),
  });
  delete process.env.IDEMPOTENCY_TABLE_NAME;
  for (const name of ['ATREST_OTS_ENDPOINT', 'ATREST_OTS_INSTANCE', 'ATREST_OTS_TABLE'])
    delete process.env[name];

  // What already exists before the events arrive.
  logs.state.seedKey(AWS_KEY, { enabled: true, allowsLogs: true });
  logs.state.seedKey(OLD_AWS_KEY, { enabled: true, allowsLogs: true });
  logs.state.seedLogGroup('/app/orders/api');
  logs.state.seedLogGroup('/aws/rds/instance/orders-db/postgresql', OLD_AWS_KEY);
  logs.state.seedLogGroup('/app/payments/worker', AWS_KEY);
  sls.state.seedLogstore('app-logs-prod', 'access-log');
  tables.state.seedBucket('analytics-tables');
  ack.clusters.seed({ clusterId: CLUSTER, name: 'prod-payments', state: 'initial', readyAfterReads: 1_000 });
  ecs.state.seedKey(REGION, ALI_KEY);
  ecs.state.seedKey(REGION, DRIFT_KEY);
  ecs.state.seedRegion(REGION, { encrypted: true, kmsKeyId: ecs.state.serviceKeyId(REGION) });

  // The deployed entry points, with their log lines kept off this screen.
  const aws = await import('../functions/aws/log-group-kms/handler.ts');
  const { Logger } = await import('@aws-lambda-powertools/logger');
  const { createFcHandler } = await import('../functions/alicloud/fc.ts');
  const quiet = { log: () => {} };
  const lambda = aws.createHandler({ logger: new Logger({ logLevel: 'SILENT' }) });
  const fcHandlers = {
    logstore: createFcHandler(
      (await import('../functions/alicloud/logstore-encryption/handler.ts')).handlerOptions(quiet),
    ),
    cluster: createFcHandler(
      (await import('../functions/alicloud/cluster-kms/handler.ts')).handlerOptions(quiet),
    ),
    tables: createFcHandler(
      (await import('../functions/alicloud/table-bucket-encryption/handler.ts')).handlerOptions(quiet),
    ),
    disk: createFcHandler(
      (await import('../functions/alicloud/disk-default-kms/handler.ts')).handlerOptions(quiet),
    ),
  };
  const lambdaContext = (): Context =>
    ({
      functionName: 'atrest-log-group-kms',
      awsRequestId: `demo-${Date.now()}`,
      getRemainingTimeInMillis: () => 60_000,
    }) as unknown as Context;
  const fcContext = (name: string) => ({
    requestId: `demo-${Date.now()}`,
    function: { name, timeout: 60 },
    region: REGION,
    accountId: ACCOUNT,
  });

  /** Deployed handlers throw after logging a failed/deferred/rejected outcome, as the platform needs. */
  const settle = async (invoke: () => Promise<Outcome[]>): Promise<Outcome[]> => {
    try {
      return await invoke();
    } catch (error) {
      const outcomes = (error as { outcomes?: Outcome[] }).outcomes;
      if (outcomes) return [...outcomes];
      throw error;
    }
  };

  const rows: Row[] = [];
  const step = async (
    fn: string,
    resource: string,
    inspect: () => string,
    invoke: () => Promise<Outcome[]>,
  ): Promise<Outcome[]> => {
    const before = inspect();
    const marks = services.map((s) => s.calls.length);
    const outcomes = await settle(invoke);
    const writes = services.flatMap((s, i) =>
      s.calls.slice(marks[i]).filter((c) => c.write && c.status > 0 && c.status < 400),
    );
    const action = writes
      .map((c) => (c.service === 'fc' ? 're-queue (FC async, delayed)' : c.action))
      .filter((a, i, all) => all.indexOf(a) === i)
      .join(' + ');
    rows.push({
      fn,
      resource,
      before,
      action: action || '—',
      after: inspect(),
      outcome: outcomes.map((o) => o.outcome).join(','),
      note: outcomes
        .map((o) => o.reason ?? (o.error ? `${o.error.code}: ${o.error.message}` : undefined))
        .filter((n) => n !== undefined)
        .join('; '),
    });
    return outcomes;
  };

  const logGroup = (name: string) => () => short(logs.state.logGroup(name)?.kmsKeyId);
  const logstore =
    (name = 'access-log') =>
    () => {
      const conf = sls.state.logstore('app-logs-prod', name)?.encrypt_conf;
      if (!conf) return 'none';
      return `${conf.enable ? '' : 'disabled '}${conf.encrypt_type}${conf.user_cmk_info ? ` ${short(conf.user_cmk_info.cmk_key_id)}` : ''}`;
    };
  const bucketArn = `acs:osstables:${REGION}:${ACCOUNT}:bucket/analytics-tables`;
  const bucket = () => tables.state.bucket(bucketArn)?.encryption?.sseAlgorithm ?? 'none';
  const cluster =
    (id = CLUSTER) =>
    () => {
      const c = ack.clusters.get(id);
      return c ? `${c.state}, ${short(c.kmsKeyId)}` : 'gone';
    };
  const disk = () => {
    const r = ecs.state.region(REGION);
    return r.encrypted ? `on, ${short(r.kmsKeyId)}` : 'off';
  };

  const AWS = 'aws.log-group-kms';
  await step(AWS, '/app/orders/api', logGroup('/app/orders/api'), () =>
    lambda(event('aws/log-group-kms/create-log-group.json'), lambdaContext()),
  );
  await step(AWS, '/app/orders/api (same event again)', logGroup('/app/orders/api'), () =>
    lambda(event('aws/log-group-kms/create-log-group.json'), lambdaContext()),
  );
  await step(AWS, '/aws/rds/instance/orders-db/…', logGroup('/aws/rds/instance/orders-db/postgresql'), () =>
    lambda(event('aws/log-group-kms/create-log-group-by-service.json'), lambdaContext()),
  );
  await step(AWS, '/app/payments/worker', logGroup('/app/payments/worker'), () =>
    lambda(event('aws/log-group-kms/create-log-group-with-kms-key.json'), lambdaContext()),
  );
  // Someone removes the key (DisassociateKmsKey): the tamper event restores it, and the event of
  // atrest's own AssociateKmsKey ends without a read or a write (no loop).
  await disassociateKmsKey(logs.service.url, '/app/orders/api');
  // It happens now, after the creation was remediated (the sample's own time is in the past).
  const tamper = event('aws/log-group-kms/disassociate-kms-key.json') as {
    time: string;
    detail: { eventTime: string };
  };
  tamper.time = tamper.detail.eventTime = new Date().toISOString();
  const [restored] = await step(AWS, '/app/orders/api (key removed)', logGroup('/app/orders/api'), () =>
    lambda(tamper, lambdaContext()),
  );
  const ownWrite = event('aws/log-group-kms/associate-kms-key-other-key.json') as {
    detail: { requestParameters: Record<string, unknown> };
  };
  ownWrite.detail.requestParameters.kmsKeyId = AWS_KEY;
  const [own] = await step(AWS, "/app/orders/api (atrest's own write)", logGroup('/app/orders/api'), () =>
    lambda(ownWrite, lambdaContext()),
  );
  await step(
    AWS,
    '(CreateLogGroup that failed)',
    () => '—',
    () => lambda(event('aws/log-group-kms/create-log-group-failed.json'), lambdaContext()),
  );
  const malformed = { ...(event('aws/log-group-kms/create-log-group.json') as object) } as Record<
    string,
    unknown
  >;
  malformed.detail = {
    eventName: 'CreateLogGroup',
    eventSource: 'logs.amazonaws.com',
    requestParameters: { logGroupName: 'no spaces allowed' },
  };
  await step(
    AWS,
    '(malformed event)',
    () => '—',
    () => lambda(malformed, lambdaContext()),
  );

  await step('alicloud.logstore-encryption', 'app-logs-prod/access-log', logstore(), () =>
    fcHandlers.logstore(
      event('alicloud/logstore-encryption/create-logstore.json'),
      fcContext('atrest-logstore-encryption'),
    ),
  );
  await step('alicloud.table-bucket-encryption', 'analytics-tables', bucket, () =>
    fcHandlers.tables(
      event('alicloud/table-bucket-encryption/create-table-bucket.json'),
      fcContext('atrest-table-bucket-encryption'),
    ),
  );
  await step('alicloud.cluster-kms', `${CLUSTER.slice(0, 12)}…`, cluster(), () =>
    fcHandlers.cluster(event('alicloud/cluster-kms/create-cluster.json'), fcContext('atrest-cluster-kms')),
  );
  // Minutes later the cluster is running; FC delivers the delayed re-invocation.
  ack.clusters.advance(CLUSTER, 'running');
  for (const requeued of fc.drain())
    await step('alicloud.cluster-kms', `${CLUSTER.slice(0, 12)}… (re-queued)`, cluster(), () =>
      fcHandlers.cluster(requeued.body, fcContext('atrest-cluster-kms')),
    );
  await step('alicloud.disk-default-kms', `${REGION} default disk key`, disk, () =>
    fcHandlers.disk(
      event('alicloud/disk-default-kms/enable-disk-encryption-by-default.json'),
      fcContext('atrest-disk-default-kms'),
    ),
  );
  // Someone points the default at another key (drift); ActionTrail reports it.
  ecs.state.seedRegion(REGION, { encrypted: true, kmsKeyId: DRIFT_KEY });
  await step('alicloud.disk-default-kms', `${REGION} (drift)`, disk, () =>
    fcHandlers.disk(
      event('alicloud/disk-default-kms/modify-disk-default-kms-key-id.json'),
      fcContext('atrest-disk-default-kms'),
    ),
  );
  await step('alicloud.disk-default-kms', `${REGION} (6-hourly timer)`, disk, () =>
    fcHandlers.disk(event('alicloud/disk-default-kms/timer.json'), fcContext('atrest-disk-default-kms')),
  );

  // Someone buys an ACK Pro cluster in the console: ActionTrail records a ConsoleOperation.
  ack.clusters.seed({ clusterId: CONSOLE_CLUSTER, name: 'prod-web', state: 'running' });
  await step(
    'alicloud.cluster-kms',
    `${CONSOLE_CLUSTER.slice(0, 12)}… (console)`,
    cluster(CONSOLE_CLUSTER),
    () =>
      fcHandlers.cluster(
        event('alicloud/cluster-kms/create-cluster.console.json'),
        fcContext('atrest-cluster-kms'),
      ),
  );
  // SLS's own records never reach EventBridge: the trail writes the record to its logstore, and
  // the FC log trigger hands the function the cursor range, which it reads with PullLogs.
  sls.state.seedLogstore('app-logs-prod', 'trail-log');
  sls.state.appendLogs(TRAIL.project, TRAIL.logstore, 0, {
    topic: 'actiontrail_audit_event',
    logs: [
      {
        time: Math.floor(Date.now() / 1000),
        contents: {
          __topic__: 'actiontrail_audit_event',
          event: JSON.stringify(event('alicloud/logstore-encryption/create-logstore.record.json')),
        },
      },
    ],
  });
  await step('alicloud.logstore-encryption', 'app-logs-prod/trail-log (trail)', logstore('trail-log'), () =>
    fcHandlers.logstore(
      event('alicloud/logstore-encryption/create-logstore.sls-trigger.json'),
      fcContext('atrest-logstore-encryption'),
    ),
  );

  // Every function the tour above does not show (one added since it was written) runs its own
  // creation sample from its test kit driver through its deployed entry: the demo follows the
  // manifests, and a new function needs no row here.
  const driven: Array<[string, boolean]> = [];
  const toured = new Set(rows.filter((r) => r.outcome === 'applied').map((r) => r.fn));
  const { allDrivers } = await import('../test/hardening/drivers.ts');
  const { platformEntry } = await import('../test/hardening/platform.ts');
  for (const d of allDrivers().filter((x) => !toured.has(x.id))) {
    await d.start();
    services.push(d.service);
    try {
      d.reset();
      d.seed(0);
      const invoke = await platformEntry(d, { env: { ATREST_CONFIG_JSON: JSON.stringify(d.config()) } });
      const state = () => (d.encrypted(0) ? 'encrypted' : 'not encrypted');
      await step(d.id, '(its test kit sample)', state, () => invoke(d.event(0)));
      driven.push([`${d.id} (its test kit sample)`, d.encrypted(0)]);
    } finally {
      services.pop();
      await d.stop();
    }
  }

  // Did every resource end where the config says it should?
  const checks: Array<[string, boolean]> = [
    ...driven,
    ['/app/orders/api', logs.state.logGroup('/app/orders/api')?.kmsKeyId === AWS_KEY],
    [
      '/aws/rds/instance/orders-db/postgresql',
      logs.state.logGroup('/aws/rds/instance/orders-db/postgresql')?.kmsKeyId === AWS_KEY,
    ],
    ['/app/payments/worker', logs.state.logGroup('/app/payments/worker')?.kmsKeyId === AWS_KEY],
    [
      'app-logs-prod/access-log',
      sls.state.logstore('app-logs-prod', 'access-log')?.encrypt_conf?.user_cmk_info?.cmk_key_id === ALI_KEY,
    ],
    ['analytics-tables', tables.state.bucket(bucketArn)?.encryption?.sseAlgorithm === 'AES256'],
    [CLUSTER, ack.clusters.get(CLUSTER)?.kmsKeyId === ALI_KEY],
    [`${CONSOLE_CLUSTER} (console)`, ack.clusters.get(CONSOLE_CLUSTER)?.kmsKeyId === ALI_KEY],
    [
      'app-logs-prod/trail-log (trail)',
      sls.state.logstore('app-logs-prod', 'trail-log')?.encrypt_conf?.user_cmk_info?.cmk_key_id === ALI_KEY,
    ],
    [`${REGION} default disk key`, ecs.state.region(REGION).kmsKeyId === ALI_KEY],
  ];
  for (const s of services) await s.stop();

  print(rows, out);
  const calls = services.map((s) => `${s.name} ${s.calls.length}`).join(', ');
  const writes = services.reduce((n, s) => n + s.count({ write: true, ok: true }), 0);
  out('');
  out(`API calls seen by the emulator: ${calls} (${writes} successful writes)`);
  const bad = checks.filter(([, ok]) => !ok);
  if (restored?.outcome !== 'applied' || own?.outcome !== 'ignored') {
    out(
      `The tamper was not restored as it should be (restore: ${restored?.outcome}, own write: ${own?.outcome})`,
    );
    return 1;
  }
  out('The key stays: DisassociateKmsKey was undone; atrest ignored the event of its own write (no loop).');
  if (bad.length > 0) {
    out(`NOT encrypted as configured: ${bad.map(([name]) => name).join(', ')}`);
    return 1;
  }
  out(
    `All ${checks.length} resources are encrypted with the configured key. Config: infra/example-config.json`,
  );
  out('Next: `npm test` runs the test suite; README.md shows how to point atrest at real clouds.');
  return 0;
}

/** Someone else's DisassociateKmsKey against the emulator, with the real SDK client. */
async function disassociateKmsKey(url: string, logGroupName: string): Promise<void> {
  const { CloudWatchLogsClient, DisassociateKmsKeyCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const client = new CloudWatchLogsClient({
    region: 'us-east-1',
    endpoint: url,
    credentials: DUMMY_CREDENTIALS,
  });
  await client.send(new DisassociateKmsKeyCommand({ logGroupName }));
  client.destroy();
}

function print(rows: Row[], out: (line: string) => void): void {
  const headers: Row = {
    fn: 'function',
    resource: 'resource',
    before: 'before',
    action: 'action',
    after: 'after',
    outcome: 'outcome',
  };
  const keys = ['fn', 'resource', 'before', 'action', 'after', 'outcome'] as const;
  const width = Object.fromEntries(
    keys.map((k) => [k, Math.max(...[headers, ...rows].map((r) => r[k].length))]),
  ) as Record<keyof Row, number>;
  const line = (r: Row) =>
    keys
      .map((k) => r[k].padEnd(width[k]))
      .join('  ')
      .trimEnd();
  out('atrest: five remediations, end to end, against the bundled emulator (offline)');
  out('');
  out(line(headers));
  out(keys.map((k) => '─'.repeat(width[k])).join('  '));
  const notes: string[] = [];
  for (const r of rows) {
    if (r.note && r.outcome !== 'applied' && r.outcome !== 'compliant') {
      notes.push(`  [${notes.length + 1}] ${r.outcome}: ${r.note}`);
      out(`${line(r)} [${notes.length}]`);
    } else out(line(r));
  }
  if (notes.length > 0) {
    out('');
    for (const n of notes) out(n);
  }
}
