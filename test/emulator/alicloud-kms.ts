/**
 * Alibaba Cloud KMS (RPC API 2016-01-20), emulated at the wire for `atrest doctor`: DescribeKey,
 * ACS3-signed `POST /?KeyId=…` with the action in `x-acs-action`, exactly what
 * `@alicloud/openapi-client` sends. A KMS key lives in one region and RPC calls carry no region
 * of their own (the endpoint is the region), so one emulator serves one region: start one per
 * region a test needs. A key is found by id or by its ARN; an unknown key is 404
 * `Forbidden.KeyNotFound`, as documented.
 */
import { type Acs3Credential, RpcHandler } from './acs3.ts';
import { EmulatedService, ServiceFailure } from './harness.ts';

const KMS_VERSION = '2016-01-20';

export interface AlicloudKmsKey {
  keyId: string;
  /** Default Enabled. Others: Disabled, PendingDeletion, PendingImport. */
  state?: string;
  /** Default Aliyun_AES_256. */
  keySpec?: string;
  /** Default ENCRYPT/DECRYPT. */
  keyUsage?: string;
}

export class AlicloudKmsState {
  private readonly keys = new Map<string, Required<AlicloudKmsKey>>();

  constructor(
    readonly region: string,
    readonly account: string,
  ) {}

  seedKey(key: AlicloudKmsKey): this {
    this.keys.set(key.keyId, {
      keyId: key.keyId,
      state: key.state ?? 'Enabled',
      keySpec: key.keySpec ?? 'Aliyun_AES_256',
      keyUsage: key.keyUsage ?? 'ENCRYPT/DECRYPT',
    });
    return this;
  }

  arnOf(keyId: string): string {
    return `acs:kms:${this.region}:${this.account}:key/${keyId}`;
  }

  /** By id, or by ARN in this region. */
  find(keyId: string): Required<AlicloudKmsKey> | undefined {
    const prefix = `acs:kms:${this.region}:${this.account}:key/`;
    return this.keys.get(keyId.startsWith(prefix) ? keyId.slice(prefix.length) : keyId);
  }
}

class AlicloudKmsHandler extends RpcHandler {
  constructor(
    private readonly state: AlicloudKmsState,
    credentials?: Acs3Credential[],
  ) {
    super({ version: KMS_VERSION, host: 'kms.aliyuncs.com', actions: ['DescribeKey'] }, credentials);
  }

  protected answer(_action: string, query: URLSearchParams, log: (resource: string) => void) {
    const keyId = query.get('KeyId');
    if (!keyId) throw new ServiceFailure(400, 'MissingParameter', 'KeyId is mandatory for this action.');
    log(keyId);
    const key = this.state.find(keyId);
    if (!key) throw new ServiceFailure(404, 'Forbidden.KeyNotFound', 'The specified Key is not found.');
    return {
      KeyMetadata: {
        KeyId: key.keyId,
        Arn: this.state.arnOf(key.keyId),
        KeyState: key.state,
        KeySpec: key.keySpec,
        KeyUsage: key.keyUsage,
        Creator: this.state.account,
        CreationDate: '2026-11-01T00:00:00Z',
        Description: 'emulated key',
        Origin: 'Aliyun_KMS',
        ProtectionLevel: 'SOFTWARE',
        DeletionProtection: 'Disabled',
        AutomaticRotation: 'Disabled',
      },
    };
  }
}

export interface AlicloudKmsEmulator {
  service: EmulatedService;
  url: string;
  state: AlicloudKmsState;
  stop(): Promise<void>;
}

/** Starts KMS for one region; point `ALIBABA_CLOUD_ENDPOINT_KMS` at `url`. */
export async function startAlicloudKms(
  options: { region?: string; account?: string; credentials?: Acs3Credential[]; port?: number } = {},
): Promise<AlicloudKmsEmulator> {
  const state = new AlicloudKmsState(options.region ?? 'cn-hangzhou', options.account ?? '1234567890123456');
  const service = new EmulatedService('kms', new AlicloudKmsHandler(state, options.credentials));
  const url = await service.start(options.port);
  return { service, url, state, stop: () => service.stop() };
}
