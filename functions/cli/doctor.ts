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

import { ConfigError } from '#core/errors';
import type { FunctionId } from '#core/outcome';
import { ALICLOUD_REGION, AWS_REGION } from '#core/validation';
import type { Config } from '../config.ts';
import { configSection, MANIFESTS } from '../manifests.ts';
import { loadCliConfig } from './config.ts';
import { ackRbacChecks } from './doctor-ack-rbac.ts';
import { checkAlicloud } from './doctor-alicloud.ts';
import { awsRegions, checkAws } from './doctor-aws.ts';
import { checkAwsDelivery } from './doctor-aws-delivery.ts';
import { type Check, type DoctorOptions, formatCheck } from './doctor-check.ts';

export { formatCheck } from './doctor-check.ts';

const SECTIONS: ReadonlyArray<[FunctionId, (c: Config) => unknown]> = MANIFESTS.map((m) => [
  m.id,
  (c: Config) => configSection(m.id, c),
]);

/** The hint's examples: each cloud's first registered section, in document order (aws first). */
const EXAMPLE_SECTIONS = (['aws', 'alicloud'] as const)
  .map((cloud) => MANIFESTS.find((m) => m.cloud === cloud))
  .filter((m) => m !== undefined)
  .map((m) => `${m.cloud}.${m.section}`)
  .join(' or ');

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
      fix: `add a section, e.g. ${EXAMPLE_SECTIONS} (README, Configuration; or start again with atrest init)`,
    });
    return 1;
  }
  emit({ status: 'ok', check: 'config', detail: `${source}: valid; configured: ${on.join(', ')}` });

  // Region names overlap between the clouds (us-east-1 is both), so each cloud takes its own flag;
  // plain --region goes to a cloud without its own flag, in that cloud's region format.
  const awsFlags = options.awsRegions?.length
    ? options.awsRegions
    : options.regions.filter((r) => AWS_REGION.test(r));
  const aliFlags = options.alicloudRegions?.length
    ? options.alicloudRegions
    : options.regions.filter(
        (r) => ALICLOUD_REGION.test(r) && !(config.aws !== undefined && AWS_REGION.test(r)),
      );
  if (config.aws?.logGroupKms) {
    for await (const c of checkAws(config.aws.logGroupKms, { ...options, regions: awsFlags })) emit(c);
    for await (const c of checkAwsDelivery(awsRegions(config.aws.logGroupKms, awsFlags))) emit(c);
  }
  if (config.alicloud)
    for await (const c of checkAlicloud(config.alicloud, { ...options, regions: aliFlags })) emit(c);
  for await (const c of ackRbacChecks(config, aliFlags, {
    env: options.env,
    ...(options.ackRoleId !== undefined ? { roleId: options.ackRoleId } : {}),
  }))
    emit(c);

  return failed ? 1 : 0;
}
