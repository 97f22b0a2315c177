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
import type { Config } from '../functions/config.ts';
import type { FunctionId } from '../infra/functions.ts';
import type { EmulatedService } from '../test/emulator/harness.ts';
import { allDrivers, type Driver, type EventJson, excludingAll } from '../test/hardening/drivers.ts';
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

/** The call record inside an event: CloudTrail's `detail`, ActionTrail's `data`. */
const recordKey = (e: EventJson): 'detail' | 'data' => (e.detail ? 'detail' : 'data');

/**
 * A function's fixture from its test kit driver (test/functions/<cloud>/<fn>/driver.ts): its
 * emulator, its real remediator and client, its sample event and seeded states. A new function is
 * benchmarked through its driver, without a line here.
 */
async function fixtureOf(d: Driver): Promise<Fixture> {
  await d.start();
  d.reset();
  const excluding = excludingAll(d);
  return {
    id: d.id,
    service: d.service,
    remediator: d.remediator(),
    config: d.config(),
    ...(excluding ? { excluding } : {}),
    event: () => d.event(0),
    failed: (e) => {
      e[recordKey(e)].errorCode = d.failedCode;
      e[recordKey(e)].errorMessage = 'injected by the benchmark';
    },
    malformed: (e) => {
      delete e[recordKey(e)];
    },
    seedNonCompliant: () => d.seed(0),
    seedCompliant: () => d.seedCompliant(0),
    stop: () => d.stop(),
  };
}

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

const DRIVERS = allDrivers();

export async function measureEconomy(ids: readonly FunctionId[]): Promise<EconomyResult[]> {
  const results: EconomyResult[] = [];
  for (const id of ids) {
    const driver = DRIVERS.find((d) => d.id === id);
    if (driver === undefined)
      throw new Error(`${id}: no test kit driver (test/functions/<cloud>/<fn>/driver.ts)`);
    const fixture = await fixtureOf(driver);
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
