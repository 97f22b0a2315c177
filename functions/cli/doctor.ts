/**
 * `atrest doctor`: preflight checks, one line per check on stdout —
 * `ok|FAIL|skip  <check>  <detail>  fix: <what to do>` — exit 0 when nothing failed, 1 when a
 * check failed, 2 when the config itself is invalid (then nothing else is checked).
 *
 * It checks what makes a deployed function fail at the first event: the config; each configured
 * key exists, is enabled, has the spec and usage the service needs, and (AWS) its key policy lets
 * the service use it. Permission checks need an API with a real DryRun parameter; none of the
 * seed APIs has one, so those lines say `skip … not checkable` instead of guessing.
 */
import type { Config } from '#core/config';
import { ConfigError } from '#core/errors';
import type { FunctionId } from '#core/outcome';
import { ALICLOUD_REGION, AWS_REGION } from '#core/validation';
import { loadCliConfig } from './config.ts';
import { ackRbacChecks } from './doctor-ack-rbac.ts';
import { checkAlicloud } from './doctor-alicloud.ts';
import { checkAws } from './doctor-aws.ts';

export type CheckStatus = 'ok' | 'FAIL' | 'skip';

export interface Check {
  status: CheckStatus;
  /** What was checked, e.g. `aws.log-group-kms@us-east-1 key-enabled`. No double spaces. */
  check: string;
  detail: string;
  /** What to do about a FAIL (or a skip). */
  fix?: string;
}

export interface DoctorOptions {
  /** `--config FILE`; else `$ATREST_CONFIG`. */
  configPath?: string;
  /** `--region` flags: where the default (non-regional) keys are used, both clouds. */
  regions: string[];
  /** `--aws-region` flags; when given, `--region` no longer applies to AWS. */
  awsRegions?: string[];
  /** `--alicloud-region` flags; when given, `--region` no longer applies to Alibaba Cloud. */
  alicloudRegions?: string[];
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
}

export function formatCheck(c: Check): string {
  const fix = c.fix !== undefined ? `  fix: ${c.fix}` : '';
  return `${c.status.padEnd(4)}  ${c.check}  ${c.detail}${fix}`;
}

const SECTIONS: ReadonlyArray<[FunctionId, (c: Config) => unknown]> = [
  ['aws.log-group-kms', (c) => c.aws?.logGroupKms],
  ['alicloud.logstore-encryption', (c) => c.alicloud?.logstoreEncryption],
  ['alicloud.cluster-kms', (c) => c.alicloud?.clusterKms],
  ['alicloud.table-bucket-encryption', (c) => c.alicloud?.tableBucketEncryption],
  ['alicloud.disk-default-kms', (c) => c.alicloud?.diskDefaultKms],
];

/** Runs every check, printing each line as it is known; returns the exit status. */
export async function doctor(options: DoctorOptions): Promise<number> {
  let failed = false;
  const emit = (c: Check) => {
    if (c.status === 'FAIL') failed = true;
    options.out(formatCheck(c));
  };

  let config: Config;
  const source = options.configPath ?? options.env.ATREST_CONFIG ?? '';
  try {
    config = loadCliConfig(options.configPath, options.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // No file named, or one that cannot be read (the cause is the file system's error).
    const unreadable =
      source === '' || typeof (error.cause as NodeJS.ErrnoException | undefined)?.code === 'string';
    emit({
      status: 'FAIL',
      check: 'config',
      detail: error.issues.join('; '),
      fix: unreadable
        ? 'pass --config FILE (or set ATREST_CONFIG) naming the config document (write one with: atrest init)'
        : 'correct the named field(s); the deployed functions refuse this config at start-up too',
    });
    options.err(`atrest: ${error.message}`);
    return 2;
  }
  const on = SECTIONS.filter(([, get]) => get(config) !== undefined).map(([id]) => id);
  if (on.length === 0) {
    emit({
      status: 'FAIL',
      check: 'config',
      detail: `${source}: valid, but no function is configured (every event would end "ignored")`,
      fix: 'add a section, e.g. aws.logGroupKms or alicloud.clusterKms (README, Configuration; or start again with atrest init)',
    });
    return 1;
  }
  emit({ status: 'ok', check: 'config', detail: `${source}: valid; configured: ${on.join(', ')}` });

  // Region names overlap between the clouds (us-east-1 is both), so each cloud takes its own flag;
  // plain --region goes to a cloud without its own flag, in that cloud's region format.
  const awsRegions = options.awsRegions?.length
    ? options.awsRegions
    : options.regions.filter((r) => AWS_REGION.test(r));
  const aliRegions = options.alicloudRegions?.length
    ? options.alicloudRegions
    : options.regions.filter(
        (r) => ALICLOUD_REGION.test(r) && !(config.aws !== undefined && AWS_REGION.test(r)),
      );
  if (config.aws?.logGroupKms)
    for await (const c of checkAws(config.aws.logGroupKms, { ...options, regions: awsRegions })) emit(c);
  if (config.alicloud)
    for await (const c of checkAlicloud(config.alicloud, { ...options, regions: aliRegions })) emit(c);
  for (const c of ackRbacChecks(config, aliRegions)) emit(c);

  return failed ? 1 : 0;
}
