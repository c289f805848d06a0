// A push-fed async iterable of user messages: the streaming input of one live Claude Code process.
import type { SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';

export class InputChannel implements AsyncIterable<SDKUserMessage> {
  private readonly buffer: SDKUserMessage[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  push(text: string): void {
    if (this.closed) throw new Error('input channel is closed');
    this.buffer.push({ type: 'user', message: { role: 'user', content: text }, parent_tool_use_id: null });
    this.wake?.();
  }

  /** Ends the input: the CLI sees end of stdin and exits once idle. */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<SDKUserMessage> {
    for (;;) {
      const next = this.buffer.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}
