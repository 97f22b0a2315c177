#!/usr/bin/env node
// `npm run test:runtimes`: runs the deployed bundles on Node 22 (Lambda's nodejs22.x) as well as
// on this machine's Node. Node 22 comes from the npm registry's official binary packages
// (node-<os>-<arch>, the packages the `node` npm package installs), pinned, cached under
// node_modules/.cache, so no other download source is needed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NODE22 = '22.23.3';
const root = fileURLToPath(new URL('..', import.meta.url));
const os = { linux: 'linux', darwin: 'darwin', win32: 'win' }[process.platform];
const pkg = `node-${os}-${process.arch}`;
const cache = join(root, 'node_modules', '.cache', 'atrest', `${pkg}-${NODE22}`);
const bin = join(cache, 'package', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');

if (!existsSync(bin)) {
  mkdirSync(cache, { recursive: true });
  console.error(`runtimes: fetching ${pkg}@${NODE22} from the npm registry`);
  execFileSync('npm', ['pack', `${pkg}@${NODE22}`, '--silent', '--pack-destination', cache], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const tarball = readdirSync(cache).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`runtimes: npm pack ${pkg}@${NODE22} produced no tarball`);
  execFileSync('tar', ['-xzf', join(cache, tarball), '-C', cache]);
}

const result = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    '--reporter=default',
    'test/infra/runtime.test.ts',
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, ATREST_NODE22: bin } },
);
process.exitCode = result.status ?? 1;
