/** What the release programs share as command-line tools. */

/** Bad arguments: the program prints the message (which says the fix) and exits 2. */
export class UsageError extends Error {}

/**
 * Runs a release program's `main` and sets the exit status: what `main` returns (0 when
 * nothing), 2 for a UsageError, 1 for any other error, each error printed as `<name>: <message>`.
 */
export async function runProgram(name: string, main: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await main()) ?? 0;
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}
