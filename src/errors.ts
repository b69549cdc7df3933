/**
 * One error class per stable code. Tests and clients match on `code`, never on wording.
 */

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_UNREADABLE'
  | 'STATE_UNREADABLE'
  | 'BAD_REQUEST'
  | 'BAD_JSON'
  | 'BAD_DURATION'
  | 'BAD_VERSION'
  | 'UNKNOWN_SERVICE'
  | 'NOT_FOUND'
  | 'SWAP_IN_PROGRESS'
  | 'NO_PREVIOUS_VERSION'
  | 'NO_CANARY'
  | 'ADOPTION_FAILED'
  | 'UPGRADE_IN_PROGRESS'
  | 'UPGRADE_FAILED'
  | 'CONFIG_CHANGED'
  | 'MIGRATION_FAILED'
  | 'MIGRATION_TIMEOUT'
  | 'MAINTENANCE'
  | 'RELOAD_IN_PROGRESS'
  | 'CANARY_IN_PROGRESS'
  | 'MIGRATION_NEEDS_HOLD'
  | 'START_FAILED'
  | 'IMAGE_NOT_FOUND'
  | 'EXITED'
  | 'UNHEALTHY'
  | 'HEALTH_DEADLINE'
  | 'ABORTED'
  | 'SOCKET_UNSAFE'
  | 'LISTEN_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  | 'INTERNAL';

export class BatonError extends Error {
  override readonly name = 'BatonError';
  readonly code: ErrorCode;
  /** Structured context for logs and the control API (step, version, exit code, ...). */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.details = opts.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string } & Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function isBatonError(e: unknown): e is BatonError {
  return e instanceof BatonError;
}

/** HTTP status the control API answers for an error code. */
export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'UNKNOWN_SERVICE':
    case 'NOT_FOUND':
      return 404;
    case 'SWAP_IN_PROGRESS':
    case 'CANARY_IN_PROGRESS':
    case 'MIGRATION_NEEDS_HOLD':
    case 'RELOAD_IN_PROGRESS':
    case 'UPGRADE_IN_PROGRESS':
    case 'CONFIG_CHANGED':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'BAD_VERSION':
    case 'BAD_DURATION':
    case 'NO_PREVIOUS_VERSION':
    case 'NO_CANARY':
      return 422;
    case 'INTERNAL':
      return 500;
    default:
      return 400;
  }
}
