/**
 * A local DynamoDB (dynalite, in memory) with the Powertools idempotency table, for the AWS
 * idempotency adapter's tests. Point the adapter at it with `AWS_ENDPOINT_URL_DYNAMODB = endpoint`.
 * dynalite checks no signature; it does evaluate Powertools' ConditionExpression (see
 * shared/research/aws.md, "Verified by running it").
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { DUMMY_CREDENTIALS } from './cloudwatch-logs.ts';

export interface RunningDynalite {
  endpoint: string;
  tableName: string;
  /** An admin client on the endpoint (for assertions on the table). */
  client: DynamoDBClient;
  stop(): Promise<void>;
}

export async function startDynalite(options: { tableName?: string } = {}): Promise<RunningDynalite> {
  const tableName = options.tableName ?? 'atrest-idempotency';
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: DUMMY_CREDENTIALS });
  // The table the CDK stack creates: hash key `id` (Powertools' default key attribute).
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return {
    endpoint,
    tableName,
    client,
    async stop() {
      client.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
