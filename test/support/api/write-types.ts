// `npm run openapi:types`: writes test/support/api/types.ts from the document a freshly started server serves.
import { writeFileSync } from 'node:fs';
import { startTestServer } from '../server.js';
import { clientTypes, DOCUMENT_ENV, TYPES_FILE } from './document.js';

// No turn runs: the model URL is never called.
const t = await startTestServer('http://127.0.0.1:9', { ...DOCUMENT_ENV });
try {
  const document: unknown = await (await t.request('/openapi.json', { key: null })).json();
  writeFileSync(TYPES_FILE, await clientTypes(document));
  console.log(`wrote ${TYPES_FILE}`);
} finally {
  await t.cleanup();
}
