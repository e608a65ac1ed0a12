/** The routes the simulator serves, and which one a request's path names. */

/** The paths served (without a trailing slash). */
const CHAT_PATH = '/v1/chat/completions';
const EMBEDDINGS_PATH = '/v1/embeddings';
const MODELS_PATH = '/v1/models';

export type Route =
  | { kind: 'chat' }
  | { kind: 'embeddings' }
  | { kind: 'models' }
  | { kind: 'model'; id: string };

/** The route `path` names, or `undefined` for a path the simulator does not serve. */
export function routeOf(path: string): Route | undefined {
  if (path === CHAT_PATH) return { kind: 'chat' };
  if (path === EMBEDDINGS_PATH) return { kind: 'embeddings' };
  if (path === MODELS_PATH) return { kind: 'models' };
  if (path.startsWith(`${MODELS_PATH}/`)) {
    try {
      const id = decodeURIComponent(path.slice(MODELS_PATH.length + 1));
      if (id !== '') return { kind: 'model', id };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
