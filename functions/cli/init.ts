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
import { FUNCTION_IDS, manifestsOf } from '../manifests.ts';
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
  if (enabled.includes('aws.log-group-kms')) {
    const [first, ...others] = options.awsKeys;
    if (first === undefined)
      throw new UsageError('aws.log-group-kms needs --aws-key ARN (one per region)', 'init');
    const byRegion: Record<string, string> = {};
    for (const arn of others) {
      const region = arn.split(':')[3] ?? '';
      if (region === first.split(':')[3] || byRegion[region] !== undefined)
        throw new UsageError(`--aws-key: two keys for ${region}; give one key per region`, 'init');
      byRegion[region] = arn;
    }
    config.aws = {
      logGroupKms: {
        kmsKeyArn: first,
        ...(others.length > 0 ? { byRegion } : {}),
        // atrest's own function logs are encrypted by its stack; no need to touch them here.
        exclude: ['^/aws/lambda/atrest-'],
      },
    };
  }
  const ali: Record<string, unknown> = {};
  const key = options.alicloudKey;
  const needKey = (id: string) => {
    if (key === undefined) throw new UsageError(`${id} needs --alicloud-key KEY_ID`, 'init');
    return key;
  };
  if (enabled.includes('alicloud.logstore-encryption')) {
    if (options.logstoreRole !== undefined) {
      const regionId = options.alicloudRegions[0];
      if (regionId === undefined)
        throw new UsageError('--logstore-role needs --alicloud-region R (the region of the key)', 'init');
      ali.logstoreEncryption = {
        encryptType: 'default',
        userCmkInfo: {
          keyId: needKey('alicloud.logstore-encryption'),
          roleArn: options.logstoreRole,
          regionId,
        },
        exclude: [],
      };
    } else ali.logstoreEncryption = { encryptType: 'default', exclude: [] };
  }
  if (enabled.includes('alicloud.cluster-kms'))
    ali.clusterKms = { kmsKeyId: needKey('alicloud.cluster-kms') };
  if (enabled.includes('alicloud.table-bucket-encryption'))
    ali.tableBucketEncryption = { sseAlgorithm: 'AES256' };
  if (enabled.includes('alicloud.disk-default-kms'))
    ali.diskDefaultKms = {
      kmsKeyId: needKey('alicloud.disk-default-kms'),
      ...(options.alicloudRegions.length > 0 ? { regions: [...options.alicloudRegions] } : {}),
    };
  if (Object.keys(ali).length > 0) config.alicloud = ali;
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
  const ali = config.alicloud;
  if (config.aws?.logGroupKms)
    lines.push(
      `  aws.logGroupKms        new CloudWatch Logs groups get ${config.aws.logGroupKms.kmsKeyArn}${config.aws.logGroupKms.byRegion ? ' (byRegion: the key of each other region)' : ''}; exclude holds name patterns left alone`,
    );
  if (ali?.logstoreEncryption)
    lines.push(
      ali.logstoreEncryption.userCmkInfo
        ? '  alicloud.logstoreEncryption  new logstores encrypted with your key (BYOK), SLS assuming the role given'
        : "  alicloud.logstoreEncryption  new logstores encrypted with SLS's own key (add --logstore-role for BYOK)",
    );
  if (ali?.clusterKms)
    lines.push('  alicloud.clusterKms    new ACK Pro clusters get Secret encryption with your key');
  if (ali?.tableBucketEncryption)
    lines.push('  alicloud.tableBucketEncryption  new OSS table buckets get AES256 server-side encryption');
  if (ali?.diskDefaultKms)
    lines.push(
      `  alicloud.diskDefaultKms  the ECS default disk key is kept on your key${ali.diskDefaultKms.regions ? ` in ${ali.diskDefaultKms.regions.join(', ')}` : ''}`,
    );
  lines.push(
    'Next:',
    `  npx atrest doctor --config ${options.out}      checks each key exists, is enabled and usable`,
    `  npm run deploy:aws -- --config ${options.out} --alarm-email you@example.com --dry-run`,
    `  npm run deploy:alicloud -- --config ${options.out} --alarm-email you@example.com --code-bucket B --dry-run`,
  );
  for (const line of lines) options.err(line);
  return 0;
}
