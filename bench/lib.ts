// Benchmark helpers: statistics, the bare Claude Code CLI run the way peers run it (one process per request), SSE timing, memory readings.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { CLI_PATH } from '../test/support/cli-env.js';
import { cliProcesses, type CliProcessFilter } from '../test/support/processes.js';

// ---------- statistics ----------

export interface Summary {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

function median(sorted: number[]): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const mid = Math.floor(n / 2);
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: median(sorted),
    p90: percentile(sorted, 90),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
  };
}

// ---------- memory ----------

/** Peak resident set (VmHWM) of a live process, in MiB; undefined once it is gone. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak RSS of every live CLI process this filter matches, in MiB. */
export function cliPeakRss(filter: CliProcessFilter): number[] {
  return cliProcesses(filter)
    .map((p) => peakRssMiB(p.pid))
    .filter((v): v is number => v !== undefined);
}

/** The working directory of a live process, if readable. */
export function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** Waits (at most `timeoutMs`) until no CLI process these filters match runs but those `keep` accepts, so one sample's exiting process does not slow the next. */
export async function quiet(
  filters: CliProcessFilter[],
  keep: (pid: number) => boolean = () => false,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (filters.some((f) => cliProcesses(f).some((p) => !keep(p.pid))) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------- the bare CLI, one process per request ----------

const children = new Set<ChildProcess>();

/** Kills every bare CLI process this benchmark started and that still runs. */
export function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export interface CliRun {
  /** Spawn to the `result` line. */
  resultMs: number;
  /** Spawn to the first `stream_event` text delta (with --include-partial-messages). */
  firstTextMs: number | undefined;
  /** Spawn to process exit. */
  exitMs: number;
  /** Peak RSS read when the result line arrived. */
  peakRssMiB: number | undefined;
  sessionId: string | undefined;
  text: string;
}

/** Runs `claude <args>` with stream-json output and times it from spawn; rejects on failure or after `timeoutMs`. */
export function runCli(
  args: string[],
  opts: { env: Record<string, string>; cwd: string; timeoutMs?: number },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(CLI_PATH, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let resultMs: number | undefined;
    let firstTextMs: number | undefined;
    let rss: number | undefined;
    let sessionId: string | undefined;
    let text = '';
    let error: string | undefined;
    let buf = '';
    let stderr = '';
    const timer = setTimeout(() => {
      error = `timed out after ${opts.timeoutMs ?? 60_000} ms`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const now = performance.now();
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line) continue;
        let m: any;
        try {
          m = JSON.parse(line);
        } catch {
          continue;
        }
        if (
          m.type === 'stream_event' &&
          firstTextMs === undefined &&
          m.event?.type === 'content_block_delta' &&
          m.event.delta?.type === 'text_delta'
        ) {
          firstTextMs = now - t0;
        } else if (m.type === 'result' && resultMs === undefined) {
          resultMs = now - t0;
          rss = child.pid === undefined ? undefined : peakRssMiB(child.pid);
          sessionId = m.session_id;
          text = typeof m.result === 'string' ? m.result : '';
          if (m.is_error) error = `CLI result is an error: ${m.subtype} ${text}`;
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    child.on('error', (err) => {
      error = err.message;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      const exitMs = performance.now() - t0;
      if (error || resultMs === undefined) {
        reject(new Error(`bare CLI ${args.join(' ')}: ${error ?? `exited (${code}) without a result`}\n${stderr}`));
      } else {
        resolve({ resultMs, firstTextMs, exitMs, peakRssMiB: rss, sessionId, text });
      }
    });
  });
}

/**
 * The Bash sandbox the service starts its sessions with (engine/sandbox.ts, less the per-session folder lists). A
 * CLI with it enabled starts ~250 ms slower here (the sandbox runtime runs `bwrap --version`, `npm root -g` to look
 * for its seccomp helper, and a socat proxy), so when the service's sandbox is on the peer CLI gets it too: both
 * sides then start the same Claude Code configuration. `peer.settings` stays empty otherwise.
 */
export const PEER_SANDBOX = {
  enabled: true,
  failIfUnavailable: true,
  allowUnsandboxedCommands: false,
  network: { allowedDomains: [], strictAllowlist: true },
};
export const peer = { settings: [] as string[] };

/** The peer way for a new conversation: `claude -p <msg> --output-format stream-json --verbose` (+ peer.settings). */
export function coldArgs(message: string, partial = false): string[] {
  return [
    '-p',
    message,
    '--output-format',
    'stream-json',
    '--verbose',
    ...(partial ? ['--include-partial-messages'] : []),
    ...peer.settings,
  ];
}

/** The peer way for a follow-up: the same plus `--resume <claude session id>`. */
export function resumeArgs(message: string, claudeSessionId: string, partial = false): string[] {
  return [...coldArgs(message, partial), '--resume', claudeSessionId];
}

// ---------- SSE ----------

export interface StreamRun {
  /** Request to the first `event: text` frame. */
  firstTextMs: number;
  /** Request to the end of the stream. */
  endMs: number;
  sawResult: boolean;
}

/** Reads an SSE response to its end, timing the first `event: text` frame from `t0`. */
export async function readStream(res: Response, t0: number): Promise<StreamRun> {
  if (res.status !== 200 || !res.body) throw new Error(`stream request answered ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = '';
  let firstTextMs: number | undefined;
  let sawResult = false;
  let failure: string | undefined;
  for await (const chunk of res.body) {
    const now = performance.now();
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.+)$/m.exec(frame)?.[1];
      if (event === 'text' && firstTextMs === undefined) firstTextMs = now - t0;
      if (event === 'result') sawResult = true;
      if (event === 'error') failure = frame;
    }
  }
  const endMs = performance.now() - t0;
  if (failure) throw new Error(`stream ended with an error: ${failure}`);
  if (firstTextMs === undefined) throw new Error('stream ended without a text event');
  return { firstTextMs, endMs, sawResult };
}

// ---------- the compatible endpoints ----------

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** The peer way for a stateless client: the whole history flattened into one prompt for a fresh `claude -p`. */
export function flattenHistory(messages: ChatMessage[]): string {
  return messages.map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}`).join('\n\n');
}

/** Reads an OpenAI-format stream (`data:` chunks, `data: [DONE]`) to its end, timing the first content delta from `t0`. */
export async function readCompletionStream(res: Response, t0: number): Promise<{ firstTextMs: number; text: string }> {
  if (res.status !== 200 || !res.body) throw new Error(`completion stream answered ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = '';
  let text = '';
  let firstTextMs: number | undefined;
  let done = false;
  for await (const chunk of res.body) {
    const now = performance.now();
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const data = /^data: (.*)$/m.exec(buf.slice(0, i))?.[1];
      buf = buf.slice(i + 2);
      if (data === undefined) continue;
      if (data === '[DONE]') {
        done = true;
        continue;
      }
      const parsed = JSON.parse(data);
      if (parsed.error) throw new Error(`completion stream failed: ${data}`);
      const delta = parsed.choices?.[0]?.delta?.content;
      if (delta) {
        text += delta;
        firstTextMs ??= now - t0;
      }
    }
  }
  if (!done || firstTextMs === undefined) throw new Error('completion stream ended without text or [DONE]');
  return { firstTextMs, text };
}
