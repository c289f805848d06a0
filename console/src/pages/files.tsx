// Files of a session's workspace: browse folders, view text with highlighting, download, upload (drop or pick), delete.
import { useState } from 'preact/hooks';
import { api, call, enc, encPath } from '../api';
import { highlight } from '../highlight';
import { ListTable } from '../parts/list-table';
import { ProblemBox, useAction, useLoad, when } from '../parts/status';

interface Entry {
  name: string;
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  modified: string;
}

const VIEW_LIMIT = 512 * 1024;

export function FilesPage({ name }: { name: string }) {
  const [dir, setDir] = useState('');
  const [viewing, setViewing] = useState<{ path: string; html: string; language: string } | null>(null);
  const [dragging, setDragging] = useState(false);
  const files = `/sessions/${enc(name)}/files`;
  const list = useLoad(() => api<Entry[]>(`${files}?limit=100${dir ? `&path=${enc(dir)}` : ''}`), [name, dir]);
  const action = useAction();

  const view = (e: Entry) =>
    action.run(async () => {
      if (e.size > VIEW_LIMIT) throw new Error(`${e.name} is too large to show here (${e.size} bytes): download it.`);
      const text = await (await call(`${files}/${encPath(e.path)}`)).text();
      setViewing({ path: e.path, ...highlight(e.path, text) });
    });

  const download = (e: Entry) =>
    action.run(async () => {
      const blob = await (await call(`${files}/${encPath(e.path)}`)).blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = e.name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });

  const remove = (e: Entry) =>
    action.run(async () => {
      if (!confirm(`Delete ${e.path}?`)) return;
      await api(`${files}/${encPath(e.path)}${e.type === 'directory' ? '?recursive=true' : ''}`, { method: 'DELETE' });
      if (viewing?.path === e.path) setViewing(null);
      list.reload();
    });

  const upload = (picked: FileList | null) =>
    action.run(async () => {
      for (const file of Array.from(picked ?? [])) {
        const form = new FormData();
        if (dir) form.append('path', `${dir}/`);
        form.append('file', file, file.name);
        await api(files, { method: 'POST', body: form });
      }
      list.reload();
    });

  const entries = list.value?.data ?? [];
  const crumbs = dir ? dir.split('/') : [];
  return (
    <section>
      <div class="heading">
        <h1>Files of {name}</h1>
        <a href={`/sessions/${enc(name)}`}>Conversation</a>
      </div>
      <nav aria-label="Folder" class="crumbs">
        <button type="button" class="link" onClick={() => setDir('')}>
          workspace
        </button>
        {crumbs.map((c, i) => (
          <span key={i}>
            {' / '}
            <button type="button" class="link" onClick={() => setDir(crumbs.slice(0, i + 1).join('/'))}>
              {c}
            </button>
          </span>
        ))}
      </nav>
      <div
        class={`drop ${dragging ? 'over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          void upload(e.dataTransfer?.files ?? null);
        }}
      >
        <label>
          Upload files
          <input type="file" multiple onChange={(e) => void upload(e.currentTarget.files)} />
        </label>
        <span class="muted"> or drop files here</span>
      </div>
      <ProblemBox problem={list.problem ?? action.problem} />
      <ListTable
        loading={list.loading && !list.value}
        what="files"
        empty="This folder is empty."
        count={entries.length}
        columns={['Name', 'Size', 'Modified', '']}
      >
        {entries.map((e) => (
          <tr key={e.path}>
            <td data-label="Name">
              {e.type === 'directory' ? (
                <button type="button" class="link" onClick={() => setDir(e.path)}>
                  {e.name}/
                </button>
              ) : e.type === 'file' ? (
                <button type="button" class="link" onClick={() => view(e)} aria-label={`View ${e.name}`}>
                  {e.name}
                </button>
              ) : (
                <span>{e.name}</span>
              )}
            </td>
            <td data-label="Size">{e.type === 'file' ? `${e.size} B` : ''}</td>
            <td data-label="Modified">{when(e.modified)}</td>
            <td class="actions">
              {e.type === 'file' && (
                <button
                  type="button"
                  class="secondary small"
                  onClick={() => download(e)}
                  aria-label={`Download ${e.name}`}
                >
                  Download
                </button>
              )}
              <button type="button" class="danger small" onClick={() => remove(e)} aria-label={`Delete ${e.name}`}>
                Delete
              </button>
            </td>
          </tr>
        ))}
      </ListTable>
      {viewing && (
        <figure class="viewer">
          <figcaption>
            {viewing.path} <span class="muted">({viewing.language})</span>
          </figcaption>
          {/* highlight.js escapes the file's text; only its own span markup is added. */}
          <pre class="code hljs">
            <code dangerouslySetInnerHTML={{ __html: viewing.html }} />
          </pre>
        </figure>
      )}
    </section>
  );
}
