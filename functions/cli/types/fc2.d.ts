/** @alicloud/fc2 (FC 2.0 API 2016-08-15) ships no types; the part `atrest replay --remote --fc2-service` uses. */
declare module '@alicloud/fc2' {
  interface FcClientConfig {
    /** Note the capital ID. */
    accessKeyID: string;
    accessKeySecret: string;
    /** Required when accessKeyID starts with `STS`. */
    securityToken?: string;
    region: string;
    secure?: boolean;
    internal?: boolean;
    /** `http(s)://host[:port]`; replaces `<account>.<region>.fc.aliyuncs.com`. */
    endpoint?: string;
    /** Milliseconds. Default 60 000. */
    timeout?: number;
    headers?: Record<string, string>;
  }

  interface FcResponse {
    headers: Record<string, string | string[] | undefined>;
    /** Parsed JSON when the answer's content-type is JSON, else the text. */
    data: unknown;
  }

  class FC {
    constructor(accountId: string, config: FcClientConfig);
    invokeFunction(
      serviceName: string,
      functionName: string,
      event: string | Buffer,
      headers?: Record<string, string>,
      qualifier?: string,
    ): Promise<FcResponse>;
  }

  export default FC;
}
