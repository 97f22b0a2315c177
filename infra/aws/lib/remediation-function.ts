/**
 * The one opinionated Lambda construct every atrest function uses. It fixes the runtime (Node 22),
 * ARM64, the explicit and encrypted log group with its retention, the timeout, and the async
 * invocation settings (retries, max event age, on-failure queue) in one place.
 *
 * Code comes from the prebuilt bundle (infra/bundle.ts, the same bundle the benchmark measures)
 * as a plain `lambda.Function` asset, not `NodejsFunction`: NodejsFunction would bundle again with
 * its own esbuild settings, and would do it at every synth, tests included.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

export interface RemediationFunctionProps {
  /** The function id (README, What it does); shown in the description. */
  functionId: string;
  /** The prebuilt bundle: `lambda.Code.fromAsset(bundle.dir)`. */
  code: lambda.Code;
  /** Default `index.handler` (what infra/bundle.ts produces). */
  handler?: string;
  /** Default `atrest-<name>` (`atrest-log-group-kms`), the name `atrest replay --remote` uses. */
  functionName?: string;
  /** Environment variables. The function reads them once at start-up. */
  environment?: Record<string, string>;
  /** Default 60 s: one remediation is a read, a write and a read-back, plus backoff on conflict. */
  timeout?: Duration;
  /** Default 256 MB: memory is CPU on Lambda, and cold-start import time scales with it. */
  memorySize?: number;
  /** Reserved concurrency; default none. Set it to cap the write rate against the API's quota. */
  reservedConcurrentExecutions?: number;
  /** Log retention; default one month. */
  logRetention?: logs.RetentionDays;
  /** Key for the function's own log group; default the log group is not KMS-encrypted. */
  logEncryptionKey?: kms.IKey;
  /** Where asynchronous invocations go after the last retry fails. */
  onFailure: sqs.IQueue;
  /** Asynchronous retries after a function error (0-2); default 2. */
  retryAttempts?: number;
  /** How long an event may wait in Lambda's async queue; default 6 hours (the maximum). */
  maxEventAge?: Duration;
}

export class RemediationFunction extends lambda.Function {
  readonly logGroupOwn: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RemediationFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      ...(props.logEncryptionKey ? { encryptionKey: props.logEncryptionKey } : {}),
      // Logs are evidence of what was changed: they outlive the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // An own role instead of AWSLambdaBasicExecutionRole: that managed policy allows writing to
    // every log group in the account; this one only to the function's own group.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `atrest ${props.functionId}: execution role`,
    });
    logGroup.grantWrite(role);
    super(scope, id, {
      // A fixed, documented name: `atrest replay --remote` finds the function without a lookup.
      functionName:
        props.functionName ?? `atrest-${props.functionId.slice(props.functionId.indexOf('.') + 1)}`,
      description: `atrest ${props.functionId}: encrypts new resources at rest with the configured key`,
      code: props.code,
      handler: props.handler ?? 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(60),
      memorySize: props.memorySize ?? 256,
      role,
      logGroup,
      environment: props.environment ?? {},
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      onFailure: new SendOnlySqsDestination(props.onFailure),
      retryAttempts: props.retryAttempts ?? 2,
      maxEventAge: props.maxEventAge ?? Duration.hours(6),
    });
    this.logGroupOwn = logGroup;

    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x on purpose: the bundle targets node20 and is tested on Node 20 and 22; move to the next runtime once the test matrix covers it.',
    });
  }
}

/**
 * The on-failure destination with only the grant Lambda needs: `sqs:SendMessage` on the queue.
 * CDK's SqsDestination calls `grantSendMessages`, which adds `sqs:GetQueueAttributes` and
 * `sqs:GetQueueUrl` (and broad key actions) that no atrest code calls; the queue's key, if any, is
 * granted by the stack with the exact KMS actions.
 */
export class SendOnlySqsDestination implements lambda.IDestination {
  constructor(private readonly queue: sqs.IQueue) {}

  bind(_scope: Construct, fn: lambda.IFunction): lambda.DestinationConfig {
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }),
    );
    return { destination: this.queue.queueArn };
  }
}
