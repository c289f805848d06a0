// Problem documents (RFC 9457): the one shape every failure takes, shared by the HTTP layer and the engine's error events.

export interface ProblemDoc {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extra: string]: unknown;
}

/** Problem type URIs are relative references documented in docs/errors.md. */
export function problemType(slug: string): string {
  return `/problems/${slug}`;
}

/** A failure that knows its problem document; the HTTP layer renders any such error as it is. */
export class ProblemError extends Error {
  override name = 'ProblemError';
  /** When a retry may succeed, in seconds (sent as Retry-After); undefined = no hint. */
  retryAfterSeconds: number | undefined;
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }

  toProblem(): ProblemDoc {
    return {
      type: problemType(this.slug),
      title: this.title,
      status: this.status,
      detail: this.message,
      ...this.extra,
    };
  }
}
