/** An error the CLI reports as one line on stderr with its exit code, never a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
  }
}

/** Exit code for malformed input (a bad .drv, bad JSON, a bad flag value). */
export const EXIT_BAD_INPUT = 2;
