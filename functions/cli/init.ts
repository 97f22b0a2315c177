/**
 * `atrest init`: the first config, from flags, validated with the parser the functions run.
 *
 * Why no comments in the file: the config is JSON, and it is parsed strictly (an unknown key is an
 * error naming it, so a typo never silently switches a function off) by the CLI and by every
 * deployed function. A `$comment` key would have to be allowed everywhere and would travel into
 * each function's 4 KB environment. So the file holds only config, and init prints the guidance
 * (what each section does, what to check next) on stderr; the README documents every key.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { ConfigError } from '#core/errors';
import type { FunctionId } from '#core/outcome';
import { type Config, parseConfig } from '../config.ts';
import { configSection, FUNCTION_IDS, MANIFESTS, manifestsOf } from '../manifests.ts';
import { suggestion, UsageError } from './usage.ts';

export interface InitOptions {
  /** Where to write; default atrest.json. */
  out: string;
  /** Log-group key ARNs, one per region; the first is `kmsKeyArn`, the others `byRegion`. */
  awsKeys: readonly string[];
  /** The Alibaba Cloud KMS key id (cluster-kms, disk-default-kms, logstore BYOK). */
  alicloudKey?: string;
  /** Regions disk-default-kms checks; the first is also the BYOK key's region. */
  alicloudRegions: readonly string[];
  /** Function ids to enable; default every function whose key was given. */
  functions?: readonly string[];
  /** BYOK: the role SLS assumes to use the key. Without it logstores get SLS's own key. */
  logstoreRole?: string;
  /** Overwrite an existing file. */
  force: boolean;
  err: (line: string) => void;
}

const AWS_IDS: FunctionId[] = manifestsOf('aws').map((m) => m.id);
const ALI_IDS: FunctionId[] = manifestsOf('alicloud').map((m) => m.id);

/** The config the flags describe, validated; pure. Throws UsageError for a missing flag. */
function starterConfig(options: Omit<InitOptions, 'out' | 'force' | 'err'>): Config {
  const enabled = enabledFunctions(options);
  const config: Record<string, Record<string, unknown>> = {};
  // Each enabled function's section, as its own starter makes it from the flags (in registry order).
  for (const m of MANIFESTS) {
    if (!enabled.includes(m.id) || m.config.starter === undefined) continue;
    let section: unknown;
    try {
      section = m.config.starter(options);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.issues.join('; '), 'init');
      throw error;
    }
    config[m.cloud] = { ...config[m.cloud], [m.section]: section };
  }
  return parseConfig(config);
}

function enabledFunctions(options: Pick<InitOptions, 'functions' | 'awsKeys' | 'alicloudKey'>): FunctionId[] {
  if (options.functions === undefined) {
    const ids = [
      ...(options.awsKeys.length > 0 ? AWS_IDS : []),
      ...(options.alicloudKey !== undefined ? ALI_IDS : []),
    ];
    if (ids.length === 0)
      throw new UsageError('nothing to enable: give --aws-key ARN and/or --alicloud-key KEY_ID', 'init');
    return ids;
  }
  for (const id of options.functions)
    if (!(FUNCTION_IDS as readonly string[]).includes(id))
      throw new UsageError(`--functions: unknown function id "${id}"${suggestion(id, FUNCTION_IDS)}`, 'init');
  return options.functions as FunctionId[];
}

/** Writes the starter config and prints the guidance; returns the exit status. */
export function init(options: InitOptions): number {
  const config = starterConfig(options);
  if (existsSync(options.out) && !options.force)
    throw new ConfigError([`${options.out}: exists; pass --force to overwrite it, or --out FILE`]);
  writeFileSync(options.out, `${JSON.stringify(config, null, 2)}\n`);
  const lines = [`atrest: wrote ${options.out} (valid). What it says:`];
  const enabled = enabledFunctions(options);
  for (const m of MANIFESTS) {
    const name = `${m.cloud}.${m.section}`.padEnd(21);
    const section = configSection(m.id, config);
    if (section !== undefined && m.config.summary !== undefined)
      lines.push(`  ${name}  ${m.config.summary(section)}`);
    // Enabled, but its section has no starter: say so rather than leave it out silently.
    else if (section === undefined && enabled.includes(m.id))
      lines.push(
        `  ${name}  not written: ${m.id} has no starter section; add it by hand (README, Configuration)`,
      );
  }
  lines.push(
    'Next:',
    `  npx atrest doctor --config ${options.out}      checks each key exists, is enabled and usable`,
    `  npm run deploy:aws -- --config ${options.out} --alarm-email you@example.com --dry-run`,
    `  npm run deploy:alicloud -- --config ${options.out} --alarm-email you@example.com --code-bucket B --dry-run`,
  );
  for (const line of lines) options.err(line);
  return 0;
}
