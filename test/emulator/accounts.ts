/**
 * Per-account state for the Alibaba Cloud fakes (ECS, ACK, SLS, OSS Tables), in one place: with
 * an AccountDirectory, each fake accepts every key the directory knows (its own base keys belong
 * to the default account, Alibaba Cloud STS adds the keys it issues) and answers each request
 * from the state of the key's account. Without one, a fake is single-account as before.
 */
import { type Acs3Credential, EMULATOR_CREDENTIALS } from './acs3.ts';
import {
  type AccountDirectory,
  alicloudKeyOf,
  PerAccount,
  PerAccountHandler,
  type RequestContext,
  ServiceFailure,
  type ServiceHandler,
} from './harness.ts';

/** What Alibaba Cloud answers for an expired or mismatched STS token (codes of the OpenAPI error center). */
export const STS_TOKEN_ERRORS = {
  expired: () =>
    new ServiceFailure(400, 'InvalidSecurityToken.Expired', 'Specified SecurityToken is expired.'),
  badToken: () =>
    new ServiceFailure(
      400,
      'InvalidSecurityToken.MismatchWithAccessKey',
      'The security token does not match.',
    ),
};

export interface AlicloudAccountSetup<S, H extends ServiceHandler> {
  accounts: AccountDirectory | undefined;
  /** The fake's own accepted keys (default: EMULATOR_CREDENTIALS), owned by the default account. */
  credentials: Acs3Credential[] | undefined;
  state: S;
  makeState: (account: string) => S;
  makeHandler: (state: S, credentials: Acs3Credential[] | undefined) => H;
  /** The region a request addresses, for per-account-and-region rate limits. */
  regionOf?: (ctx: RequestContext) => string;
}

export function perAccountAlicloud<S, H extends ServiceHandler>(
  setup: AlicloudAccountSetup<S, H>,
): { handler: ServiceHandler; states: PerAccount<S> } {
  const directory = setup.accounts;
  if (directory === undefined) {
    const states = new PerAccount('', setup.state, setup.makeState);
    return { handler: setup.makeHandler(setup.state, setup.credentials), states };
  }
  for (const c of setup.credentials ?? [EMULATOR_CREDENTIALS])
    directory.addAlicloud({
      accessKeyId: c.accessKeyId,
      secret: c.accessKeySecret,
      ...(c.securityToken !== undefined ? { token: c.securityToken } : {}),
      account: directory.defaultAccount,
    });
  const live = directory.alicloudCredentials;
  const states = new PerAccount(directory.defaultAccount, setup.state, setup.makeState);
  const handlers = new PerAccount(directory.defaultAccount, setup.makeHandler(setup.state, live), (account) =>
    setup.makeHandler(states.of(account), live),
  );
  return {
    handler: new PerAccountHandler(directory, handlers, alicloudKeyOf, STS_TOKEN_ERRORS, setup.regionOf),
    states,
  };
}

/** Both clouds' STS for the CLI's own-account question: their endpoint variables, and stop. */
export interface CallerSts {
  env: { AWS_ENDPOINT_URL_STS: string; ALIBABA_CLOUD_ENDPOINT_STS: string };
  stop: () => Promise<void>;
}

/**
 * Both clouds' STS with the emulators' base keys, for tests that run the CLI: it asks
 * GetCallerIdentity for its own account (AWS `111122223333`, Alibaba Cloud `1234567890123456`
 * unless given). `env` holds the endpoint variables to pass (the AWS SDK reads process.env).
 */
export async function startCallerSts(
  options: {
    awsAccount?: string;
    alicloudAccount?: string;
    aws?: { accessKeyId: string; secretAccessKey: string };
    alicloud?: Acs3Credential;
  } = {},
): Promise<CallerSts> {
  const { startSts } = await import('./sts.ts');
  const { startAlicloudSts } = await import('./alicloud-sts.ts');
  const { DUMMY_CREDENTIALS } = await import('./sigv4.ts');
  const { AccountDirectory } = await import('./harness.ts');
  const awsKey = options.aws ?? DUMMY_CREDENTIALS;
  const awsAccount = options.awsAccount ?? '111122223333';
  const aws = await startSts(
    new AccountDirectory(awsAccount).addAws({
      accessKeyId: awsKey.accessKeyId,
      secret: awsKey.secretAccessKey,
      account: awsAccount,
    }),
  );
  const ali = await startAlicloudSts(new AccountDirectory(options.alicloudAccount ?? '1234567890123456'), {
    credentials: [options.alicloud ?? EMULATOR_CREDENTIALS],
  });
  return {
    env: { AWS_ENDPOINT_URL_STS: aws.url, ALIBABA_CLOUD_ENDPOINT_STS: ali.url },
    stop: async () => {
      await Promise.all([aws.stop(), ali.stop()]);
    },
  };
}
