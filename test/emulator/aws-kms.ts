/**
 * AWS KMS, emulated at the wire for `atrest doctor`: AWS JSON 1.1 (`POST /`, `x-amz-target:
 * TrentService.<Op>`), SigV4 checked for the `kms` signing name, errors as `{"__type","message"}`.
 *
 * Operations: DescribeKey and GetKeyPolicy (`PolicyName` `default`, the only name KMS has). Keys
 * are seeded with their state, spec, usage and policy; a key is found by id or ARN, as KMS does.
 */
import { EmulatedService, ServiceFailure } from './harness.ts';
import { type Json11Body as Body, Json11Handler, secretsOf } from './sigv4.ts';

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport' | 'Unavailable';

export interface AwsKmsKey {
  arn: string;
  state?: KeyState;
  /** Default SYMMETRIC_DEFAULT. */
  keySpec?: string;
  /** Default ENCRYPT_DECRYPT. */
  keyUsage?: string;
  /** The key policy document (object or JSON text). Default: `logsKeyPolicy` for the key's region. */
  policy?: unknown;
  keyManager?: 'CUSTOMER' | 'AWS';
}

interface Stored extends Required<Omit<AwsKmsKey, 'policy'>> {
  policy: string;
  id: string;
  region: string;
  account: string;
}

/** The key policy `atrest` deploys: the account root, plus CloudWatch Logs of the key's region. */
export function logsKeyPolicy(region: string, account: string): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
      {
        Sid: 'AllowCloudWatchLogs',
        Effect: 'Allow',
        Principal: { Service: `logs.${region}.amazonaws.com` },
        Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        Resource: '*',
        Condition: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${region}:${account}:log-group:*` },
        },
      },
    ],
  };
}

/** The default policy of a key nobody edited: only the account root (CloudWatch Logs cannot use it). */
export function rootOnlyKeyPolicy(account: string): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };
}

const KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key\/([A-Za-z0-9-]+)$/;

export class AwsKmsState {
  private readonly keys = new Map<string, Stored>();

  seedKey(key: AwsKmsKey): this {
    const m = KEY_ARN.exec(key.arn);
    if (!m) throw new Error(`seedKey: not a key ARN: ${key.arn}`);
    const [, region = '', account = '', id = ''] = m;
    const policy = key.policy ?? logsKeyPolicy(region, account);
    this.keys.set(key.arn, {
      arn: key.arn,
      id,
      region,
      account,
      state: key.state ?? 'Enabled',
      keySpec: key.keySpec ?? 'SYMMETRIC_DEFAULT',
      keyUsage: key.keyUsage ?? 'ENCRYPT_DECRYPT',
      keyManager: key.keyManager ?? 'CUSTOMER',
      policy: typeof policy === 'string' ? policy : JSON.stringify(policy),
    });
    return this;
  }

  /** By ARN, or by bare key id. */
  find(keyId: string): Stored | undefined {
    return this.keys.get(keyId) ?? [...this.keys.values()].find((k) => k.id === keyId);
  }
}

class AwsKmsHandler extends Json11Handler {
  constructor(
    private readonly state: AwsKmsState,
    secrets: ReadonlyMap<string, string>,
  ) {
    super(
      { prefixes: ['TrentService'], operations: ['DescribeKey', 'GetKeyPolicy'], signingName: 'kms' },
      secrets,
    );
  }

  protected answer(action: string, body: Body, region: string, log: (resource: string) => void): unknown {
    const keyId = body.KeyId;
    if (typeof keyId !== 'string' || keyId === '')
      throw new ServiceFailure(
        400,
        'ValidationException',
        "1 validation error detected: Value null at 'keyId'",
      );
    log(keyId);
    const key = this.state.find(keyId);
    // A key lives in one region: asking another region's endpoint does not find it.
    if (!key || key.region !== region)
      throw new ServiceFailure(400, 'NotFoundException', `Key '${keyId}' does not exist`);
    if (action === 'GetKeyPolicy') {
      const name = body.PolicyName ?? 'default';
      if (name !== 'default')
        throw new ServiceFailure(400, 'NotFoundException', `Policy ${String(name)} not found`);
      return { Policy: key.policy, PolicyName: 'default' };
    }
    const symmetric = key.keySpec === 'SYMMETRIC_DEFAULT';
    return {
      KeyMetadata: {
        AWSAccountId: key.account,
        KeyId: key.id,
        Arn: key.arn,
        CreationDate: 1_763_800_000,
        Enabled: key.state === 'Enabled',
        Description: 'emulated key',
        KeyUsage: key.keyUsage,
        KeyState: key.state,
        Origin: 'AWS_KMS',
        KeyManager: key.keyManager,
        CustomerMasterKeySpec: key.keySpec,
        KeySpec: key.keySpec,
        EncryptionAlgorithms: symmetric ? ['SYMMETRIC_DEFAULT'] : ['RSAES_OAEP_SHA_256'],
        MultiRegion: false,
      },
    };
  }
}

export interface StartAwsKmsOptions {
  credentials?: ReadonlyArray<{ accessKeyId: string; secretAccessKey: string }>;
  port?: number;
}

/** Starts the emulator; point the SDK at it with `AWS_ENDPOINT_URL_KMS = service.url`. */
export async function startAwsKms(
  options: StartAwsKmsOptions = {},
): Promise<{ service: EmulatedService; state: AwsKmsState }> {
  const state = new AwsKmsState();
  const secrets = secretsOf(options.credentials);
  const service = new EmulatedService('kms', new AwsKmsHandler(state, secrets));
  await service.start(options.port ?? 0);
  return { service, state };
}
