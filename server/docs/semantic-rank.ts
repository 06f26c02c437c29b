import type { EmbeddingsClient } from '../upstream-api/embeddings-client.ts';
import type { SearchHit } from './docs-index.ts';

/** How much the semantic score counts against the lexical one. */
const SEMANTIC_WEIGHT = 0.6;
const MAX_TEXT = 2000;

export interface RankedHit extends SearchHit {
  lexical: number;
  semantic: number | null;
}

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length && i < b.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

/**
 * Reranks lexical candidates by meaning: the query and each candidate (title + snippet) are embedded
 * (cached, queued, backed off by the client) and the blended score is a weighted sum of the lexical
 * score normalised to the best hit and the cosine similarity. Throws when the API cannot answer;
 * the caller falls back to lexical ranking.
 */
export async function blendWithEmbeddings(query: string, hits: readonly SearchHit[], client: EmbeddingsClient): Promise<RankedHit[]> {
  if (hits.length === 0) return [];
  const texts = [query, ...hits.map((h) => `${h.title}\n${h.snippet}`.slice(0, MAX_TEXT))];
  const [queryVector, ...vectors] = await client.embed(texts);
  const best = Math.max(...hits.map((h) => h.score)) || 1;
  return hits
    .map((hit, i) => {
      const lexical = hit.score / best;
      const semantic = cosine(queryVector!, vectors[i]!);
      return { ...hit, lexical, semantic, score: (1 - SEMANTIC_WEIGHT) * lexical + SEMANTIC_WEIGHT * semantic };
    })
    .sort((a, b) => b.score - a.score);
}
