/**
 * Cold-start floor of aws.log-group-kms: the bare CloudWatch Logs client and the two commands the
 * function sends, nothing else. Re-exported (not just imported) so esbuild keeps them: an import
 * whose bindings are unused is tree-shaken away and the floor would be empty.
 */
export {
  AssociateKmsKeyCommand,
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
