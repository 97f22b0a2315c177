/**
 * Cold-start floor of aws.log-group-kms: the bare SDK clients and commands the function sends,
 * nothing else — CloudWatch Logs (DescribeLogGroups, AssociateKmsKey) and DynamoDB, which the
 * deployed function calls on every event for its idempotency record (GetItem, PutItem,
 * UpdateItem, DeleteItem). Re-exported (not just imported) so esbuild keeps them: an import whose
 * bindings are unused is tree-shaken away and the floor would be empty.
 */
export {
  AssociateKmsKeyCommand,
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
export {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
