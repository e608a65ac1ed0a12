/** Reading JSON schemas as plain objects: what is a schema, a numeric keyword, and merging two. */

/** A JSON schema node (an object; `true` / `false` schemas are handled by the generator). */
export type Schema = Record<string, unknown>;

/** Whether `value` is a schema object (not `null`, not an array). */
export function isSchema(value: unknown): value is Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The finite number at `key`, or `undefined`. */
export function numberAt(schema: Schema, key: string): number | undefined {
  const value = schema[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Shallow merge of two schemas; `properties` and `required` are combined. */
export function mergeSchemas(a: Schema, b: Schema): Schema {
  const merged: Schema = { ...a, ...b };
  if (isSchema(a.properties) || isSchema(b.properties)) {
    merged.properties = {
      ...(isSchema(a.properties) ? a.properties : {}),
      ...(isSchema(b.properties) ? b.properties : {}),
    };
  }
  if (Array.isArray(a.required) || Array.isArray(b.required)) {
    merged.required = [
      ...new Set([
        ...(Array.isArray(a.required) ? a.required : []),
        ...(Array.isArray(b.required) ? b.required : []),
      ]),
    ];
  }
  return merged;
}
