/**
 * Our own bounds on input, below NATS's default 1 MiB max_payload. Anything larger is refused with
 * PAYLOAD_TOO_LARGE or INVALID_ARGUMENT before it reaches the domain. See docs/contracts.md.
 */
export const LIMITS = {
  /** whole request body, bytes */
  requestBytes: 1024 * 1024,
  /** a .drv's ATerm text, bytes (nixpkgs' largest are a few hundred KiB) */
  atermBytes: 768 * 1024,
  /** a build log sent with attempt.fail, bytes (the service keeps it content-addressed; events keep the tail) */
  logBytes: 768 * 1024,
  /** the log tail kept in events, bytes */
  logTailBytes: 4 * 1024,
  /** outputs of one derivation */
  outputs: 64,
  /** input realisations reported by one attempt */
  inputRealisations: 4096,
  /** members of one multi-machine group */
  groupMembers: 256,
  /** free-text reasons */
  reasonChars: 1024,
  /** ids: attemptId, groupId, farm, machine */
  idChars: 128,
} as const;
