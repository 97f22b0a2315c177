/**
 * `npm run emulator [-- --config FILE]`: starts the bundled emulator on 127.0.0.1, seeded with the
 * keys of the config (default: the one `atrest init` wrote, atrest.json, else the example), and
 * prints the variables to export so every CLI verb can be tried offline. Ctrl-C stops it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfigJson } from '../functions/config.ts';
import { ConfigError } from '../functions/core/errors.ts';
import { ALI_REGION, AWS_REGION, startOfflineCloud } from '../test/emulator/offline.ts';

const ROOT = resolve(import.meta.dirname, '..');

export async function runEmulator(
  argv: string[],
  print: (line: string) => void,
): Promise<() => Promise<void>> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } } });
  const path = resolve(
    values.config ?? (existsSync('atrest.json') ? 'atrest.json' : join(ROOT, 'infra', 'example-config.json')),
  );
  const config = parseConfigJson(readFileSync(path, 'utf8'), path);
  const cloud = await startOfflineCloud(config);
  const q = (v: string) => `'${v.replaceAll("'", "'\\''")}'`;
  print(
    `# atrest emulator on 127.0.0.1, seeded from ${path} (Ctrl-C stops it). Nothing leaves this machine.`,
  );
  for (const line of cloud.seeded) print(`#   ${line}`);
  print('# In another shell, paste:');
  for (const [k, v] of Object.entries({ ...cloud.env, ATREST_CONFIG: path })) print(`export ${k}=${q(v)}`);
  print('# Then try:');
  print(`#   npx atrest doctor --aws-region ${AWS_REGION} --alicloud-region ${ALI_REGION}`);
  print('#   npx atrest replay events/ --dry-run');
  print('#   npx atrest replay events/');
  print(`#   npx atrest sweep aws.log-group-kms --region ${AWS_REGION} --dry-run`);
  print(`#   npx atrest sweep alicloud.logstore-encryption --region ${ALI_REGION}`);
  return cloud.stop;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  try {
    const stop = await runEmulator(process.argv.slice(2), (l) => process.stdout.write(`${l}\n`));
    const shutdown = () => {
      void stop().then(() => process.exit(0));
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`emulator: ${error.issues.join('; ')}\n`);
    process.exitCode = 2;
  }
}
