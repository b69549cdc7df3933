/** The CLI's exit codes (README "Exit codes"; scripts depend on them). */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The operation failed; the previous version is still serving. */
  failed: 1,
  /** Bad usage or bad input that needs no attempt to judge, with a one-line reason. */
  usage: 2,
  /** No Baton answered on the control socket or URL. */
  unreachable: 3,
} as const;
