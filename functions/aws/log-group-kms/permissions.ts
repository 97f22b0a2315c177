/**
 * The exact IAM permissions of aws.log-group-kms; the CDK stack builds the Lambda's policy from
 * this, never retyped.
 *
 * Resource scoping follows the Service Authorization Reference ("Actions, resources, and
 * condition keys for Amazon CloudWatch Logs",
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html,
 * as mirrored in iann0036/iam-dataset aws/iam_definition.json):
 * - AssociateKmsKey: resource type `log-group*` (required) → scoped to this account and region.
 * - DescribeLogGroups: no resource type (access level List) → the reference requires `"*"`.
 *   Policies that scope it to `…:log-group:*` are commonly seen and appear to work, but that
 *   is not what the reference documents, so we grant it on `*` (read-only, names and key ARNs).
 * The function needs no KMS permission: CloudWatch Logs uses the key as its service principal,
 * which the key policy must allow (see infra).
 */
import type { PermissionSet } from '#core/permissions';

export const permissions: PermissionSet = {
  cloud: 'aws',
  statements: [
    {
      actions: ['logs:AssociateKmsKey'],
      resources: ['arn:{partition}:logs:{region}:{account}:log-group:*'],
      why: 'associate the configured KMS key with a new log group',
    },
    {
      actions: ['logs:DescribeLogGroups'],
      resources: ['*'],
      why: 'read a log group’s current key (exact name lookup) and list groups for sweep; the action supports no resource-level scoping',
    },
  ],
};
