// Each session's own CLAUDE_CONFIG_DIR (transcripts, .claude.json), so no process can read another session's; a conversation begun in the old shared folder is copied over on its first resume.
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readdir, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';

export class SessionConfigDirs {
  constructor(
    /** The folder holding one config folder per session (inside DATA_DIR). */
    readonly root: string,
    /** The config folder every session shared before (CLAUDE_CONFIG_DIR, else ~/.claude): operator settings, old transcripts. */
    private readonly shared: string,
  ) {}

  pathOf(sessionId: string): string {
    return join(this.root, sessionId);
  }

  /**
   * Makes the session's folder (mode 0700) with the operator's settings.json, and, when `resume` names a conversation
   * it does not hold yet, copies that transcript from the shared folder. `linkLogin`: the CLI signs in with the
   * shared folder's login file (only where the process runs outside a wall).
   */
  async prepare(sessionId: string, opts: { resume?: string; linkLogin?: boolean } = {}): Promise<string> {
    const dir = this.pathOf(sessionId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const settings = join(this.shared, 'settings.json');
    if (existsSync(settings)) await copyFile(settings, join(dir, 'settings.json'));
    const login = join(dir, '.credentials.json');
    if (opts.linkLogin && !existsSync(login) && existsSync(join(this.shared, '.credentials.json')))
      await symlink(join(this.shared, '.credentials.json'), login).catch(() => undefined);
    if (opts.resume && !(await projectOf(dir, opts.resume))) await this.migrate(dir, opts.resume);
    return dir;
  }

  /** A warm spare's folder becomes the session's (the session has no conversation yet: its own folder is replaced). */
  async adopt(spareId: string, sessionId: string): Promise<void> {
    await rm(this.pathOf(sessionId), { recursive: true, force: true });
    await rename(this.pathOf(spareId), this.pathOf(sessionId));
  }

  /**
   * A conversation a warm spare began was recorded under the spare's workspace path: copies its transcript to the
   * project folder of `cwd`, where a process resuming it in the session's own working directory looks.
   */
  async moveToProject(sessionId: string, claudeSessionId: string, cwd: string): Promise<void> {
    const dir = this.pathOf(sessionId);
    const project = await projectOf(dir, claudeSessionId);
    const wanted = projectName(cwd);
    if (!project || project === wanted) return;
    const from = join(dir, 'projects', project);
    const to = join(dir, 'projects', wanted);
    await mkdir(to, { recursive: true, mode: 0o700 });
    if (existsSync(join(to, `${claudeSessionId}.jsonl`))) return;
    await copyFile(join(from, `${claudeSessionId}.jsonl`), join(to, `${claudeSessionId}.jsonl`));
    if (existsSync(join(from, claudeSessionId)))
      await cp(join(from, claudeSessionId), join(to, claudeSessionId), { recursive: true });
  }

  /** Removes the session's folder and the transcripts in it. */
  async remove(sessionId: string): Promise<void> {
    await rm(this.pathOf(sessionId), { recursive: true, force: true });
  }

  /** Copies `<shared>/projects/<project>/<id>.jsonl` (and its `<id>/` folder of tool outputs) under the same project name. */
  private async migrate(dir: string, claudeSessionId: string): Promise<void> {
    const project = await projectOf(this.shared, claudeSessionId);
    if (!project) return;
    const from = join(this.shared, 'projects', project);
    const to = join(dir, 'projects', project);
    await mkdir(to, { recursive: true, mode: 0o700 });
    await copyFile(join(from, `${claudeSessionId}.jsonl`), join(to, `${claudeSessionId}.jsonl`));
    if (existsSync(join(from, claudeSessionId)))
      await cp(join(from, claudeSessionId), join(to, claudeSessionId), { recursive: true });
  }
}

/** The project folder under `configDir/projects` that holds the transcript `<id>.jsonl`, if any. */
async function projectOf(configDir: string, claudeSessionId: string): Promise<string | undefined> {
  if (!/^[\w-]+$/.test(claudeSessionId)) return undefined;
  const projects = await readdir(join(configDir, 'projects')).catch(() => [] as string[]);
  return projects.find((p) => existsSync(join(configDir, 'projects', p, `${claudeSessionId}.jsonl`)));
}

/** The CLI's project folder name of a working directory: every character but letters and digits becomes '-'. */
function projectName(cwd: string): string {
  return cwd.replace(/[^a-zA-Z0-9]/g, '-');
}
