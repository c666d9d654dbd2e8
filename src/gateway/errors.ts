// Client-facing errors: one class, each instance knowing its HTTP status, its stable code
// (Snowflake's where one exists) and the rule that stopped the request. Anything else that
// reaches the edge becomes a generic 500 whose message carries no internal detail.

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly rule: string,
    message: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  toBody(extra: Record<string, unknown> = {}) {
    return { code: this.code, message: this.message, rule: this.rule, sqlState: sqlState(this.status), ...extra };
  }
}

/** Codes in responses: Snowflake's where the meaning matches, documented in the README. */
export const CODES = {
  success: '090001',
  pending: '333334',
  syntax: '001003',
  notAuthorized: '003001',
  noSuchObject: '002003',
  unauthenticated: '390303',
  badRequest: '391902',
  tooLarge: '391903',
  notFound: '391904',
  gone: '391905',
  timeout: '000630',
  warehouse: '100000',
  internal: '391900',
} as const;

function sqlState(status: number): string {
  if (status === 401 || status === 403) return '42501';
  if (status === 422) return '42000';
  if (status === 504) return '57014';
  return status >= 500 ? '58000' : '22000';
}

export const badRequest = (message: string) => new GatewayError(400, CODES.badRequest, 'bad_request', message);
export const unauthenticated = (message: string) => new GatewayError(401, CODES.unauthenticated, 'unauthenticated', message);
export const forbidden = (rule: string, message: string, code: string = CODES.notAuthorized) => new GatewayError(403, code, rule, message);
export const unanalysable = (rule: string, message: string) => new GatewayError(422, CODES.syntax, rule, message);
export const internalError = () => new GatewayError(500, CODES.internal, 'internal', 'internal gateway error; the audit log has the request id');
