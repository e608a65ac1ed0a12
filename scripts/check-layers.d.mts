/** Types of scripts/check-layers.mjs, for test/layering.test.ts. */

export interface LayerViolation {
  /** A rule of .dependency-cruiser.cjs, or `no-folder-cycles`. */
  rule: string;
  from: string;
  to: string;
  /** What the rule is for and what to do. */
  comment: string;
}

export interface KnownFolderEdge {
  /** A folder, e.g. `src/runtime`. */
  from: string;
  /** A file, e.g. `src/stats/types.ts`. */
  to: string;
  until: string;
}

export const ROOT: string;
export const KNOWN_FOLDER_EDGES: readonly KnownFolderEdge[];
export function folderOf(path: string): string | undefined;
export function checkLayers(options?: {
  baseDir?: string;
  targets?: string[];
  knownEdges?: readonly KnownFolderEdge[];
}): Promise<{ violations: LayerViolation[]; messages: string[] }>;
