// The workspace guard: a PreToolUse hook that reads every path a tool call names as Claude Code reads it, resolves it with the workspace resolver from the session's folder reopened by anchor, and denies what leaves it.
import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { HookCallbackMatcher, HookEvent, HookJSONOutput } from '@anthropic-ai/claude-agent-sdk';
import { isWithin, openBase, type Dir } from '../workspace/anchor.js';
import { checkText } from '../workspace/path-text.js';
import { landingOf } from '../workspace/resolve.js';
import { openAnchored } from '../workspace/session-dirs.js';
import { shellDecision, SHELL_TOOLS, type ToolDecision } from './shell-tools.js';
import { pathsOf, readGlob, readPath, SEARCH_TOOLS, type PathReading, type ToolPath } from './tool-paths.js';

export type { ToolDecision } from './shell-tools.js';

/** A tool call the policy refused, as recorded on the turn. */
export interface ToolDenial {
  tool: string;
  input: unknown;
  reason: string;
  tool_use_id?: string;
}

export interface GuardOptions {
  /** The session's working directory (its checked real path): the CLI's cwd, where relative paths start. */
  workingDir: string;
  /**
   * Opens the working directory afresh, by anchor and checked (it throws when the folder was swapped or moved):
   * every check starts from it, never from the path resolved again. Default: the working directory by its path.
   */
  openRoot?: () => Promise<Dir>;
  /** The CLI's HOME, for `~` in paths. */
  home?: string;
  /** Folders besides the working directory the session may use (its CLI temp folder, where background task output lands). */
  extraRoots?: string[];
  /** Why shell tools are refused (the sandbox cannot start here); undefined = they are allowed (and sandboxed). */
  shellRefusal?: string;
}

/** Decides tool calls for one session and tells listeners about every refusal. */
export class WorkspaceGuard {
  private readonly listeners = new Set<(denial: ToolDenial) => void>();
  /** The extra folders' paths with their parents' real paths. */
  private extraPaths: Promise<string[]> | undefined;

  constructor(readonly opts: GuardOptions) {}

  /** Called with every denial (the runner records them on the running turn); returns an unsubscribe function. */
  onDenial(fn: (denial: ToolDenial) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The SDK hooks: one PreToolUse matcher on every tool; a failing hook blocks the call. */
  hooks(): Partial<Record<HookEvent, HookCallbackMatcher[]>> {
    return {
      PreToolUse: [
        {
          hooks: [
            async (input, toolUseId) => {
              if (input.hook_event_name !== 'PreToolUse') return {};
              return this.hookAnswer(input.tool_name, input.tool_input, input.cwd, toolUseId ?? input.tool_use_id);
            },
          ],
          timeout: 30,
          onFailure: 'block',
        },
      ],
    };
  }

  /** Allow or deny one call; `hookCwd` is the CLI's current directory, which relative paths are also read against. */
  async check(tool: string, input: unknown, hookCwd?: string): Promise<ToolDecision> {
    if (SHELL_TOOLS.has(tool)) return shellDecision(this.opts.shellRefusal);
    const paths = pathsOf(tool, input);
    // A search without `path` runs in the CLI's current directory: that must be inside too.
    if (SEARCH_TOOLS.has(tool) && !paths.some((p) => p.field === 'path'))
      paths.push({ field: 'path', value: hookCwd ?? this.opts.workingDir, kind: 'path' });
    if (paths.length === 0) return { allow: true };
    const cwds = [this.opts.workingDir];
    if (hookCwd && isAbsolute(hookCwd) && hookCwd !== this.opts.workingDir) cwds.push(hookCwd);
    const roots = await this.openRoots();
    try {
      for (const p of paths) {
        for (const cwd of cwds) {
          const why = await this.outside(this.read(p, input, cwd), roots);
          if (why) return { allow: false, reason: this.reason(tool, p, why) };
        }
      }
      return { allow: true };
    } finally {
      for (const r of roots) await r.close();
    }
  }

  /** The readings of one tool path from `cwd` (a glob from the folder its tool searches). */
  private read(p: ToolPath, input: unknown, cwd: string): PathReading {
    const ctx = { cwd, home: this.opts.home };
    if (p.kind === 'path') return readPath(p.value, ctx);
    const dir = (input as Record<string, unknown>).path;
    if (typeof dir !== 'string' || dir === '') return readGlob(p.value, cwd);
    const searched = readPath(dir, ctx);
    if ('refused' in searched) return searched;
    return readGlob(p.value, searched.paths[0]!);
  }

  /** Why a reading leaves every root, or undefined when each of its paths lands inside one. */
  private async outside(reading: PathReading, roots: Dir[]): Promise<string | undefined> {
    if ('refused' in reading) return reading.refused;
    for (const path of reading.paths) {
      try {
        checkText(path, 'the path');
      } catch (err) {
        return (err as Error).message;
      }
      const root = roots.find((r) => isWithin(r.real, path));
      if (!root) return `it names ${path}, which is outside this session's working directory`;
      const rel = relative(root.real, path);
      try {
        const landing = await landingOf(root, rel === '' ? [] : rel.split(sep), 'the path');
        if (!isWithin(root.real, landing))
          return `it leads to ${landing}, which is outside this session's working directory`;
      } catch (err) {
        return `${path} cannot be resolved inside this session's working directory with certainty (${(err as Error).message})`;
      }
    }
    return undefined;
  }

  /**
   * The working directory (by anchor) and the other allowed folders, opened for one check. An extra folder is opened
   * from `/` without following a link (its parent's real path read once): one swapped for a link is left out.
   */
  private async openRoots(): Promise<Dir[]> {
    const root = await (this.opts.openRoot ?? (() => openBase(this.opts.workingDir, 'the working directory')))();
    this.extraPaths ??= Promise.all(
      (this.opts.extraRoots ?? []).map(async (r) =>
        join(await realpath(dirname(r)).catch(() => dirname(r)), basename(r)),
      ),
    );
    const extra = await Promise.all(
      (await this.extraPaths).map((path) =>
        openAnchored('/', { path, anchor: null }, 'a session folder').then(
          (opened) => opened.dir,
          () => undefined,
        ),
      ),
    );
    return [root, ...extra.filter((r): r is Dir => r !== undefined)];
  }

  private async hookAnswer(
    tool: string,
    input: unknown,
    hookCwd: string | undefined,
    toolUseId: string | undefined,
  ): Promise<HookJSONOutput> {
    let decision: ToolDecision;
    try {
      decision = await this.check(tool, input, hookCwd);
    } catch (err) {
      decision = {
        allow: false,
        reason: `The workspace guard could not check this call (${(err as Error).message}); it was refused.`,
      };
    }
    if (decision.allow) return {};
    const denial: ToolDenial = {
      tool,
      input,
      reason: decision.reason,
      ...(toolUseId ? { tool_use_id: toolUseId } : {}),
    };
    for (const fn of [...this.listeners]) {
      try {
        fn(denial);
      } catch {
        // a listener's failure never turns a denial into an allow
      }
    }
    return {
      hookSpecificOutput: {
        hookEventName: 'PreToolUse',
        permissionDecision: 'deny',
        permissionDecisionReason: decision.reason,
      },
    };
  }

  private reason(tool: string, p: ToolPath, why: string): string {
    return (
      `Access denied by the workspace policy: ${tool} ${p.field} ${JSON.stringify(p.value)} is not allowed: ${why}. ` +
      `File tools may only read and write inside this session's working directory (${this.opts.workingDir}); use paths within it.`
    );
  }
}
