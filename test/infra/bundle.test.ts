import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundleResult, buildOptionsFor, bundleEntry, bundleFunction } from '../../infra/bundle.ts';
import {
  existingFunctions,
  FUNCTION_IDS,
  type FunctionId,
  functionSpec,
  REPO_ROOT,
} from '../../infra/functions.ts';
import { type RunningTablestore, startTablestore } from '../emulator/tablestore.ts';

const run = promisify(execFile);
const EXAMPLE_CONFIG = readFileSync(join(REPO_ROOT, 'infra', 'example-config.json'), 'utf8');

/** Imports a bundle in a fresh Node process (cwd outside the repo), as the platform would. */
async function importInFreshNode(file: string, expression: string, env: Record<string, string> = {}) {
  const script = `import(${JSON.stringify(file)}).then(async (m) => { process.stdout.write(JSON.stringify(await (${expression}))); })`;
  return run(process.execPath, ['-e', script], {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH ?? '',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ATREST_CONFIG_JSON: EXAMPLE_CONFIG,
      AWS_REGION: 'us-east-1',
      ...env,
    },
  });
}

describe('bundleFunction', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'atrest-bundle-'));
  const ids = existingFunctions();
  const results = new Map<FunctionId, BundleResult>();

  beforeAll(async () => {
    for (const id of ids) results.set(id, await bundleFunction(id, { outdir }));
  }, 60_000);
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('finds a handler for every function id', () => {
    expect(ids).toEqual([...FUNCTION_IDS]);
  });

  it.each(ids)('%s: one clean, minified file per cloud format, in its own folder', (id) => {
    const result = results.get(id);
    const cloud = functionSpec(id).cloud;

    expect(result?.warnings).toEqual([]);
    expect(result?.dir).toBe(join(outdir, id));
    expect(result?.file).toBe(join(outdir, id, cloud === 'aws' ? 'index.mjs' : 'index.js'));
    expect(result?.handler).toBe('index.handler');
    const files = [result?.file ?? '', ...(result?.chunks ?? [])];
    expect(result?.bytes).toBe(files.reduce((sum, f) => sum + statSync(f).size, 0));
    // Minified: lines run to thousands of characters (only template literals break them).
    const text = readFileSync(result?.file ?? '', 'utf8');
    expect(text.length / text.split('\n').length).toBeGreaterThan(2_000);
  });

  it.each(ids)('%s: a fresh node process imports it and finds the handler', async (id) => {
    const result = results.get(id);

    const { stdout, stderr } = await importInFreshNode(result?.file ?? '', 'typeof m.handler');

    expect(stdout).toBe('"function"');
    expect(stderr).toBe('');
  });

  it('AWS: ESM with a createRequire banner; Alibaba Cloud: CommonJS marked as such', () => {
    const aws = results.get('aws.log-group-kms');
    const ali = results.get('alicloud.logstore-encryption');

    expect(readFileSync(aws?.file ?? '', 'utf8').slice(0, 120)).toMatch(
      /^import { createRequire as \w+ } from 'node:module'; const require = /,
    );
    expect(readFileSync(ali?.file ?? '', 'utf8').slice(0, 20)).toMatch(/^"use strict";/);
    expect(JSON.parse(readFileSync(join(ali?.dir ?? '', 'package.json'), 'utf8'))).toEqual({
      type: 'commonjs',
    });
  });

  it.each(ids)('%s: what only some invocations run is split into chunks/, not read at import', (id) => {
    const result = results.get(id);
    const split = (result?.chunks ?? []).filter((f) => f.includes(`${join(id, 'chunks')}/`));
    const lazy = split.filter((f) => !result?.eager.includes(f));

    expect(result?.eager[0]).toBe(result?.file);
    expect(result?.eager.every((f) => f === result?.file || split.includes(f))).toBe(true);
    // Every function has a path that not every invocation runs (STS for member accounts at least).
    expect(lazy.length).toBeGreaterThan(0);
    if (functionSpec(id).cloud === 'alicloud') {
      expect(lazy.some((f) => /[/]trail-invocation-\w+\.js$/.test(f))).toBe(true);
      // Each split file was rewritten as CommonJS on its own: no ESM syntax left for FC's loader.
      for (const f of [result?.file ?? '', ...split]) {
        const text = readFileSync(f, 'utf8');
        expect(text.startsWith('"use strict";')).toBe(true);
        expect(text).not.toMatch(/(^|[;}])\s*(import\s*[{*\w]|export\s*[{*])/);
      }
    }
  });

  it('Alibaba Cloud: tablestore ships as its own sloppy-mode chunk inside the function folder', () => {
    const ali = results.get('alicloud.logstore-encryption');
    const chunk = join(ali?.dir ?? '', 'node_modules', 'tablestore', 'index.js');

    expect(ali?.chunks).toContain(chunk);
    expect(readFileSync(chunk, 'utf8').startsWith('"use strict"')).toBe(false);
  });
});

describe('sloppy-mode packages (tablestore)', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'atrest-sloppy-'));
  const entry = join(REPO_ROOT, 'test', 'infra', 'fixtures', 'tablestore-store-entry.ts');
  let ots: RunningTablestore;

  beforeAll(async () => {
    ots = await startTablestore();
  });
  afterAll(async () => {
    await ots.stop();
    rmSync(outdir, { recursive: true, force: true });
  });

  const storeEnv = () => ({
    ATREST_OTS_ENDPOINT: ots.endpoint,
    ATREST_OTS_INSTANCE: ots.instanceName,
    ATREST_OTS_TABLE: ots.tableName,
    ALIBABA_CLOUD_ACCESS_KEY_ID: ots.credentials.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: ots.credentials.accessKeySecret,
  });

  it('the bundled Tablestore store claims a key once, against the emulator', async () => {
    const bundle = await bundleEntry(entry, 'alicloud', join(outdir, 'chunked'));

    const { stdout, stderr } = await importInFreshNode(bundle.file, 'm.handler()', storeEnv());

    expect(JSON.parse(stdout)).toEqual([
      { kind: 'ran', value: 'ran' },
      { kind: 'duplicate', state: 'completed' },
    ]);
    expect(stderr).toBe('');
    expect(existsSync(join(outdir, 'chunked', 'node_modules', 'tablestore', 'index.js'))).toBe(true);
  });

  it('inside one strict bundle the same store breaks (why tablestore is kept apart)', async () => {
    const file = join(outdir, 'strict', 'index.mjs');
    await build({ ...buildOptionsFor('aws'), entryPoints: [entry], outfile: file });

    const failure = importInFreshNode(file, 'm.handler()', storeEnv());

    await expect(failure).rejects.toThrow(/ReferenceError: \w+ is not defined/);
  });
});
