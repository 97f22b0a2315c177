/**
 * Concurrency against the deployed idempotency stores: 20 deliveries of one resource at once (a
 * retry storm, a replay and a sweep racing the live event, 20 function instances) make exactly one
 * write; 20 different resources at once make 20. AWS: Powertools on DynamoDB (dynalite), one store
 * object per delivery like separate Lambda instances. Alibaba Cloud: Tablestore conditional rows.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IdempotencyStore } from '#core/idempotency';
import type { Outcome } from '#core/outcome';
import { TablestoreIdempotencyStore } from '../../functions/alicloud/tablestore.ts';
import { PowertoolsIdempotencyStore } from '../../functions/aws/idempotency.ts';
import { manifestOf } from '../../functions/manifests.ts';
import { type RunningDynalite, startDynalite } from '../emulator/dynalite.ts';
import { type RunningTablestore, startTablestore } from '../emulator/tablestore.ts';
import { allDrivers, type Driver, deliver } from './drivers.ts';

const N = 20;

/** Each platform's functions: the store under test is the platform's, the function any of its own. */
const onCloud = (cloud: 'aws' | 'alicloud') =>
  allDrivers()
    .filter((d) => manifestOf(d.id).cloud === cloud)
    .map((d) => [d.id, d] as const);

const tally = (outcomes: Outcome[]) =>
  outcomes.reduce<Record<string, number>>((acc, o) => {
    acc[o.outcome] = (acc[o.outcome] ?? 0) + 1;
    return acc;
  }, {});
const okWrites = (d: Driver) =>
  d.service.calls.filter((c) => c.action === d.writeAction && c.status >= 200 && c.status < 300).length;
const writeCalls = (d: Driver) => d.service.count({ action: d.writeAction });

/** N deliveries of resource 0 at once (distinct envelope ids: distinct deliveries of the same work). */
const sameResource = (d: Driver, store: () => IdempotencyStore) =>
  Promise.all(
    Array.from({ length: N }, (_, i) =>
      deliver(d, { store: store(), eventId: `11111111-0000-4000-8000-${String(i).padStart(12, '0')}` }),
    ),
  );

/** One delivery each of resources 1..N (not the one the other test completed), at once. */
const differentResources = (d: Driver, store: () => IdempotencyStore) =>
  Promise.all(Array.from({ length: N }, (_, i) => deliver(d, { store: store(), index: i + 1 })));

describe.each(onCloud('aws'))('%s with Powertools on DynamoDB (dynalite)', (_id, d) => {
  let db: RunningDynalite;
  const store = () => new PowertoolsIdempotencyStore({ tableName: db.tableName });

  beforeAll(async () => {
    await d.start();
    db = await startDynalite({ tableName: 'hardening-concurrency' });
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', db.endpoint);
    // Powertools warns that there is no Lambda context (the CLI path); not what is tested here.
    vi.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    await d.stop();
    await db.stop();
  });
  afterEach(() => d.reset());

  it(`${N} concurrent deliveries for one resource: exactly one write`, async () => {
    d.reset();
    d.seed();

    const outcomes = await sameResource(d, store);

    expect(tally(outcomes)).toEqual({ applied: 1, duplicate: N - 1 });
    expect([writeCalls(d), okWrites(d)]).toEqual([1, 1]);
    expect(d.encrypted()).toBe(true);
  });

  it(`${N} concurrent deliveries for ${N} resources: ${N} writes`, async () => {
    d.reset();
    for (let i = 1; i <= N; i++) d.seed(i);

    const outcomes = await differentResources(d, store);

    expect(tally(outcomes)).toEqual({ applied: N });
    expect([writeCalls(d), okWrites(d)]).toEqual([N, N]);
    expect(Array.from({ length: N }, (_, i) => d.encrypted(i + 1)).every(Boolean)).toBe(true);
  });
});

describe.each(onCloud('alicloud'))('%s with the Tablestore store', (_id, d: Driver) => {
  let ots: RunningTablestore;
  const store = () =>
    new TablestoreIdempotencyStore({
      endpoint: ots.endpoint,
      instanceName: ots.instanceName,
      tableName: ots.tableName,
      credentials: () => ots.credentials,
      sleep: async () => {},
    });

  beforeAll(async () => {
    await d.start();
    ots = await startTablestore();
  });
  afterAll(async () => {
    await d.stop();
    await ots.stop();
  });
  afterEach(() => {
    d.reset();
    ots.rows().clear();
  });

  it(`${N} concurrent deliveries for one resource: exactly one write`, async () => {
    d.reset();
    d.seed();

    const outcomes = await sameResource(d, store);

    expect(tally(outcomes)).toEqual({ applied: 1, duplicate: N - 1 });
    expect([writeCalls(d), okWrites(d)]).toEqual([1, 1]);
    expect(d.encrypted()).toBe(true);
    expect([...ots.rows().values()].map((r) => r.status)).toEqual(['completed']);
  });

  it(`${N} concurrent deliveries for ${N} resources: ${N} writes`, async () => {
    d.reset();
    for (let i = 1; i <= N; i++) d.seed(i);

    const outcomes = await differentResources(d, store);

    expect(tally(outcomes)).toEqual({ applied: N });
    expect([writeCalls(d), okWrites(d)]).toEqual([N, N]);
    expect(Array.from({ length: N }, (_, i) => d.encrypted(i + 1)).every(Boolean)).toBe(true);
    expect(ots.rows().size).toBe(N);
  });
});
