/**
 * The exact cloud permissions a function needs. Each function folder exports one PermissionSet in
 * `permissions.ts`; CDK and ROS build their IAM / RAM policies from it, never retyped. Resource
 * patterns may use `{partition}`, `{account}` and `{region}`, filled in by the infra.
 */
export interface PermissionStatement {
  /** Exact actions, e.g. `logs:AssociateKmsKey`, `cs:UpdateKMSEncryption`. No wildcards in actions. */
  actions: readonly string[];
  /** ARN patterns the actions are scoped to. */
  resources: readonly string[];
  /** Why the function needs these actions (shown in README and infra tests). */
  why: string;
}

export interface PermissionSet {
  cloud: 'aws' | 'alicloud';
  statements: readonly PermissionStatement[];
}

export function fillResource(
  pattern: string,
  values: { partition?: string; account: string; region: string },
): string {
  return pattern
    .replaceAll('{partition}', values.partition ?? 'aws')
    .replaceAll('{account}', values.account)
    .replaceAll('{region}', values.region);
}
