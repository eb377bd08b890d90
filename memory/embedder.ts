/** Turns texts into vectors. Implementations: the local hashed embedder, LangChain providers. */
export interface Embedder {
  /** Stable id, recorded with every embedding (changing it re-embeds everything). */
  readonly id: string;
  readonly dimension: number;
  embedDocuments(texts: string[]): Promise<number[][]>;
  embedQuery(text: string): Promise<number[]>;
}
