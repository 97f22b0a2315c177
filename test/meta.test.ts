/**
 * House rules that keep the five functions alike (STYLE.md "So, in atrest", Cloud Custodian's
 * meta-tests): every function has its three files and a sample event, declares exact permissions,
 * and keeps to the import boundaries of DESIGN.md.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTION_IDS } from '../functions/core/outcome.ts';

const ROOT = join(import.meta.dirname, '..');
const folderOf = (id: string) => id.replace('.', '/');

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

describe.each(FUNCTION_IDS)('%s', (id) => {
  const dir = join('functions', folderOf(id));

  it('has remediator.ts, handler.ts and permissions.ts', () => {
    for (const file of ['remediator.ts', 'handler.ts', 'permissions.ts'])
      expect(existsSync(join(ROOT, dir, file)), `${dir}/${file}`).toBe(true);
  });

  it('has at least one sample event in its events folder', () => {
    const events = join(ROOT, 'events', folderOf(id));
    expect(existsSync(events) ? readdirSync(events).filter((f) => f.endsWith('.json')) : []).not.toHaveLength(
      0,
    );
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
