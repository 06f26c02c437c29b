import { mkdirSync, existsSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { EmbeddingsClient } from '../upstream-api/embeddings-client.ts';
import type { DocsIndex, SearchHit } from './docs-index.ts';
import { blendWithEmbeddings } from './semantic-rank.ts';

const READ_ONLY = { readOnlyHint: true, idempotentHint: true, openWorldHint: false } as const;

/** The built-in "team docs" MCP server: lexical search over the indexed folder. One instance per upstream. */
export function createDocsServer(index: DocsIndex, version: string, embeddings: EmbeddingsClient | null = null): McpServer {
  const server = new McpServer(
    { name: 'harbor-docs', version },
    {
      instructions:
        'Team documents shared through Harbor. Use search_docs to find documents by words in them, then read_doc with a path from the results.',
    },
  );
  registerSearchDocs(server, index, embeddings);
  registerReadDoc(server, index);
  registerListDocs(server, index);
  return server;
}

function registerSearchDocs(server: McpServer, index: DocsIndex, embeddings: EmbeddingsClient | null): void {
  server.registerTool(
    'search_docs',
    {
      title: 'Search team docs',
      description: 'Full-text search over the team documents; returns the best matches first with a snippet each.',
      inputSchema: { query: z.string().min(1).describe('Words to look for'), limit: z.number().int().min(1).max(50).optional() },
      annotations: READ_ONLY,
    },
    async ({ query, limit }) => {
      const { hits, mode, note } = await rankedHits(index, embeddings, query, limit ?? 10);
      const list =
        hits.length === 0
          ? `No document matches "${query}" (${index.count} documents indexed${index.indexing ? ', indexing in progress' : ''}).`
          : hits.map((h, i) => `${i + 1}. ${h.path} — ${h.title}\n   ${h.snippet.replace(/\s+/g, ' ')}`).join('\n');
      return {
        content: [{ type: 'text', text: note ? `${note}\n${list}` : list }],
        structuredContent: { results: hits, mode, ...(note ? { note } : {}) },
      };
    },
  );
}

/** Lexical hits, re-ranked with embeddings when a client is configured; lexical with a note when that fails. */
async function rankedHits(
  index: DocsIndex,
  embeddings: EmbeddingsClient | null,
  query: string,
  wanted: number,
): Promise<{ hits: SearchHit[]; mode: 'lexical' | 'blended'; note: string }> {
  const lexical = index.search(query, wanted);
  if (!embeddings) return { hits: lexical, mode: 'lexical', note: '' };
  try {
    const candidates = index.search(query, Math.max(30, wanted), true);
    return { hits: (await blendWithEmbeddings(query, candidates, embeddings)).slice(0, wanted), mode: 'blended', note: '' };
  } catch (error) {
    return { hits: lexical, mode: 'lexical', note: `Semantic ranking is unavailable (${(error as Error).message}); these are lexical results.` };
  }
}

function registerReadDoc(server: McpServer, index: DocsIndex): void {
  server.registerTool(
    'read_doc',
    {
      title: 'Read a team doc',
      description: 'The full text of one document, by the path search_docs or list_docs gave.',
      inputSchema: { path: z.string().min(1) },
      annotations: READ_ONLY,
    },
    async ({ path }) => {
      const text = await index.read(path);
      if (text === null) {
        return { isError: true, content: [{ type: 'text', text: `No document at "${path}". Use list_docs to see the paths.` }] };
      }
      return { content: [{ type: 'text', text }] };
    },
  );
}

function registerListDocs(server: McpServer, index: DocsIndex): void {
  server.registerTool(
    'list_docs',
    {
      title: 'List team docs',
      description: 'Paths and titles of the indexed documents, optionally under a folder prefix.',
      inputSchema: { prefix: z.string().optional() },
      annotations: READ_ONLY,
    },
    async ({ prefix }) => {
      const docs = index.list(prefix ?? '');
      const note = index.indexing ? '\n(Indexing is in progress; the list may be incomplete.)' : '';
      const text = (docs.length === 0 ? 'No documents.' : docs.map((d) => `${d.path} — ${d.title} (${d.size} bytes)`).join('\n')) + note;
      return { content: [{ type: 'text', text }] };
    },
  );
}

/** First start: a docs folder with a welcome document, so Harbor serves something useful at once. */
export function ensureDocsFolder(folder: string): void {
  mkdirSync(folder, { recursive: true });
  if (existsSync(join(folder, 'welcome.md')) || readdirSync(folder).length > 0) return;
  writeFileSync(
    join(folder, 'welcome.md'),
    `# Welcome to Harbor

This folder is served to your team by Harbor's built-in **docs** MCP server.
Drop Markdown, text or code files here; they are indexed within seconds and
teammates can find them with the \`search_docs\` tool, read them with
\`read_doc\`, and browse them with \`list_docs\`.

Add a teammate with \`harbor token add <name>\` and send them the snippet it prints.
`,
  );
}
