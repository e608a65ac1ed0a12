// Dashboard: the JSON API client (same-origin fetch; errors carry the server's code and field).

class ApiError extends Error {
  constructor(message, status, code, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export async function api(path, init = {}) {
  let res;
  try {
    res = await fetch(path, {
      credentials: 'same-origin',
      cache: 'no-store',
      ...init,
      headers: { Accept: 'application/json', ...(init.headers ?? {}) },
    });
  } catch (err) {
    throw new ApiError(`Network error: ${err?.message ?? err}`, 0, 'NETWORK');
  }
  const text = await res.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    const e = body && typeof body === 'object' ? body.error : null;
    const message = typeof e?.message === 'string' ? e.message : `${res.status} ${res.statusText}`;
    throw new ApiError(message, res.status, e?.code, e?.field);
  }
  return body;
}

export function post(path, data = {}) {
  return api(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
  });
}
