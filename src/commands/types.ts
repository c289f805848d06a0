// The shape of one `claude-code-api` subcommand.

export interface Command {
  /** One line for the usage text. */
  summary: string;
  /** Usage of the arguments, e.g. `create --name N`; empty when there are none. */
  args?: string;
  /** Runs the command with the arguments after its name; resolves with the exit code. */
  run(argv: string[]): Promise<number>;
}
