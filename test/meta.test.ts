/**
 * House rules that keep the functions alike (STYLE.md "So, in atrest", Cloud Custodian's
 * meta-tests), for every manifest in functions/manifests.ts: its files, its test kit driver, a
 * sample event per event form, exact permissions with reasons, a deployed trigger, and the import
 * boundaries of DESIGN.md. Forgetting any of them for a new function fails here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANIFESTS } from '../functions/manifests.ts';
import type { Driver } from './hardening/driver-kit.ts';

const ROOT = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

const importsOf = (file: string): string[] =>
  [
    ...readFileSync(join(ROOT, file), 'utf8').matchAll(
      /^\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm,
    ),
  ].map((m) => m[1] ?? '');

/**
 * The forms a creation event reaches a function in, each needing a sample: EventBridge on AWS; on
 * Alibaba Cloud the three ActionTrail event types on EventBridge, the bare record, and (for any of
 * its events) the FC SLS log-trigger invocation of the trail path (events/SOURCES.md).
 */
const FORMS = {
  aws: ['eventbridge'],
  alicloud: ['ApiCall', 'ConsoleOperation', 'AliyunServiceEvent', 'record'],
} as const;

/** A sample's event name and form, read the way the parsers read them. */
function formOf(event: Record<string, unknown>): { name?: string; form: string } {
  const detail = event.detail as Record<string, unknown> | undefined;
  const data = event.data as Record<string, unknown> | undefined;
  if (typeof detail?.eventName === 'string') return { name: detail.eventName, form: 'eventbridge' };
  if (typeof data?.eventName === 'string' && typeof event.type === 'string')
    return { name: data.eventName, form: event.type.split(':').pop() ?? '' };
  if (typeof event.eventName === 'string') return { name: event.eventName, form: 'record' };
  if (typeof (event.source as Record<string, unknown> | undefined)?.logstoreName === 'string')
    return { form: 'sls-trigger' };
  return { form: 'other' };
}

describe.each(MANIFESTS.map((m) => [m.id, m] as const))('%s', (id, manifest) => {
  const folder = `${manifest.cloud}/${manifest.folder}`;
  const dir = join('functions', folder);
  const samples = (() => {
    const events = join(ROOT, 'events', folder);
    if (!existsSync(events)) return [];
    return readdirSync(events)
      .filter((f) => f.endsWith('.json'))
      .map((f) => formOf(JSON.parse(readFileSync(join(events, f), 'utf8'))));
  })();

  it('is named after its folder and lives in it', () => {
    expect(id).toBe(`${manifest.cloud}.${manifest.folder}`);
    expect(existsSync(join(ROOT, dir, 'manifest.ts')), `${dir}/manifest.ts`).toBe(true);
  });

  it('has a test kit driver beside its tests that drives this function', async () => {
    const path = join(ROOT, 'test', 'functions', folder, 'driver.ts');
    expect(existsSync(path), `test/functions/${folder}/driver.ts`).toBe(true);
    const { driver } = await import(path);
    expect(typeof driver, `test/functions/${folder}/driver.ts exports driver`).toBe('function');
    expect(driver().id).toBe(id);
  });

  it('its driver names its cold-start floor, its own samples (fuzzed, created, tampered, restored) and its failed-call code', async () => {
    const path = join(ROOT, 'test', 'functions', folder, 'driver.ts');
    if (!existsSync(path)) expect.fail(`test/functions/${folder}/driver.ts is missing`);
    const d = (await import(path)).driver() as Driver;
    const where = `test/functions/${folder}/driver.ts`;

    expect(typeof d.floor, `${where}: no \`floor\` (bench/cold-start.ts measures it against one)`).toBe(
      'string',
    );
    expect(
      existsSync(join(ROOT, 'bench', 'floors', `${d.floor}.ts`)),
      `${where}: no bench/floors/${d.floor}.ts`,
    ).toBe(true);
    expect(d.fuzz?.sample, `${where}: no \`fuzz\` spec`).toMatch(new RegExp(`^${folder}/[^/]+\\.json$`));
    expect(existsSync(join(ROOT, 'events', d.fuzz.sample)), `events/${d.fuzz.sample}`).toBe(true);
    expect(typeof d.fuzz.check, `${where}: fuzz.check`).toBe('function');
    expect(d.failedCode, `${where}: no \`failedCode\``).toMatch(/^[A-Za-z][\w.]+$/);
    for (const kind of ['creation', 'tamper', 'own'] as const) {
      const path = d.samples?.[kind] ?? '';
      expect(path, `${where}: samples.${kind}`).toMatch(new RegExp(`^${folder}/[^/]+\\.json$`));
      expect(existsSync(join(ROOT, 'events', path)), `events/${path}`).toBe(true);
    }
  });

  it('has a sample of every event it owns (creations and tampers)', () => {
    expect(manifest.events.creation.length).toBeGreaterThan(0);
    for (const name of [...manifest.events.creation, ...manifest.events.tamper])
      expect(
        samples.some((s) => s.name === name),
        `events/${folder}: no sample of ${name}`,
      ).toBe(true);
  });

  it('has a sample of its creation in every delivery form', () => {
    for (const name of manifest.events.creation)
      for (const form of FORMS[manifest.cloud])
        expect(
          samples.some((s) => s.name === name && s.form === form),
          `events/${folder}: no ${form} sample of ${name}`,
        ).toBe(true);
    expect(
      samples.some((s) => s.form === 'sls-trigger'),
      `events/${folder}: no SLS log-trigger invocation sample`,
    ).toBe(manifest.cloud === 'alicloud');
  });

  it('is deployed with a trigger on every event it owns', async () => {
    expect(manifest.trigger, `${dir}/manifest.ts: no trigger`).toBeDefined();
    // Imported here: the stacks build every function's trigger at import, so one without fails this test, named.
    const deployed: readonly string[] =
      manifest.cloud === 'aws'
        ? (await import('../infra/aws/lib/atrest-stack.ts')).AWS_DEPLOYED_IDS
        : (await import('../infra/alicloud/atrest-stack.ts')).ALICLOUD_FUNCTION_IDS;
    expect(deployed, `infra does not deploy ${id}`).toContain(id);
    expect(manifest.trigger.eventNames).toEqual(
      expect.arrayContaining([...manifest.events.creation, ...manifest.events.tamper]),
    );
  });

  it('has remediator.ts, handler.ts, permissions.ts and manifest.ts', () => {
    for (const file of ['remediator.ts', 'handler.ts', 'permissions.ts', 'manifest.ts'])
      expect(existsSync(join(ROOT, dir, file)), `${dir}/${file}`).toBe(true);
  });

  it('exports its id, a remediator factory and a handler', async () => {
    const remediator = await import(join(ROOT, dir, 'remediator.ts'));
    expect(remediator.FUNCTION_ID).toBe(id);
    expect(typeof remediator.createRemediator).toBe('function');
    expect(remediator.createRemediator({ env: {} }).id).toBe(id);
    const handlerSource = readFileSync(join(ROOT, dir, 'handler.ts'), 'utf8');
    expect(handlerSource).toMatch(/export const handler\b/);
  });

  it('declares exact actions (no wildcards), each with resources and a reason', async () => {
    const { permissions } = await import(join(ROOT, dir, 'permissions.ts'));
    expect(permissions.cloud).toBe(id.split('.')[0]);
    expect(permissions.statements.length).toBeGreaterThan(0);
    for (const statement of permissions.statements) {
      for (const action of statement.actions) expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
      expect(statement.resources.length).toBeGreaterThan(0);
      expect(statement.why.length).toBeGreaterThan(10);
    }
  });

  it('imports no other function folder', () => {
    for (const file of sources(dir))
      for (const spec of importsOf(file))
        expect(
          spec.startsWith('../') && !spec.startsWith('../../') ? spec.split('/').length : 0,
          `${file}: ${spec}`,
        ).not.toBe(3);
  });
});

describe('import boundaries', () => {
  it('functions/core imports no cloud SDK, no middy, no other functions folder', () => {
    for (const file of sources('functions/core'))
      for (const spec of importsOf(file))
        expect(spec, file).not.toMatch(
          /^(@aws-sdk|@alicloud|@aws-lambda-powertools|@middy|tablestore|\.\.\/)/,
        );
  });

  it('functions/ never imports test/ or bench/', () => {
    for (const file of sources('functions'))
      for (const spec of importsOf(file)) expect(spec, file).not.toMatch(/(^|\/)(test|bench)\//);
  });

  it('AWS code imports no Alibaba Cloud code and the other way round', () => {
    for (const file of sources('functions/aws'))
      for (const spec of importsOf(file)) expect(spec, file).not.toMatch(/@alicloud|alicloud\//);
    for (const file of sources('functions/alicloud'))
      for (const spec of importsOf(file))
        expect(spec, file).not.toMatch(/@aws-sdk|@aws-lambda-powertools|\/aws\//);
  });
});
