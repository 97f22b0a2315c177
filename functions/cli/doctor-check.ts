/**
 * What every `atrest doctor` check produces, apart from the checks themselves so that doctor.ts
 * can import each cloud's checks without those importing doctor.ts back (no import cycle).
 */
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
  /** `--region` flags: where the default (non-regional) keys are used. */
  regions: string[];
  /** `--aws-region` flags; when given, `--region` no longer applies to AWS. */
  awsRegions?: string[];
  /** `--alicloud-region` flags; when given, `--region` no longer applies to Alibaba Cloud. */
  alicloudRegions?: string[];
  /** `--ack-role-id`: the cluster-kms role's id (stack output ClusterKmsRoleId), to check ACK RBAC. */
  ackRoleId?: string;
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
}

export function formatCheck(c: Check): string {
  const fix = c.fix !== undefined ? `  fix: ${c.fix}` : '';
  return `${c.status.padEnd(4)}  ${c.check}  ${c.detail}${fix}`;
}
