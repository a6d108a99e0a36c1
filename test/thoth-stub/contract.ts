/**
 * The parts of the Thoth User API contract the stub enforces, written from
 * /work/shared/thoth-user-api.md: which query parameters each endpoint declares (connexion's
 * strict validation turns any other into a 400), their types, and the build-analysis body.
 * Messages imitate connexion's problem details, so the client's error text is exercised.
 */

export type ParamType = 'string' | 'boolean' | { readonly oneOf: readonly string[] };

export interface QuerySpec {
  readonly params: Readonly<Record<string, ParamType>>;
  readonly required: readonly string[];
}

const ENVIRONMENT_TYPE: ParamType = { oneOf: ['buildtime', 'runtime'] };
const COMMON: Readonly<Record<string, ParamType>> = {
  environment_type: ENVIRONMENT_TYPE,
  origin: 'string',
  debug: 'boolean',
  force: 'boolean',
};

export const BUILD_ANALYSIS_QUERY: QuerySpec = {
  params: {
    base_registry_user: 'string',
    base_registry_password: 'string',
    base_registry_verify_tls: 'boolean',
    output_registry_user: 'string',
    output_registry_password: 'string',
    output_registry_verify_tls: 'boolean',
    ...COMMON,
  },
  required: [],
};

export const ANALYZE_QUERY: QuerySpec = {
  params: { image: 'string', registry_user: 'string', registry_password: 'string', verify_tls: 'boolean', ...COMMON },
  required: ['image'],
};

export const NO_QUERY: QuerySpec = { params: {}, required: [] };

export type QueryValue = string | boolean;
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly detail: string };

/** Connexion reads booleans case-insensitively as true/false and nothing else. */
function readBoolean(text: string): boolean | undefined {
  const lower = text.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

export function checkQuery(search: URLSearchParams, spec: QuerySpec): Checked<Readonly<Record<string, QueryValue>>> {
  const names = [...search.keys()];
  const extra = [...new Set(names.filter((name) => !(name in spec.params)))];
  if (extra.length > 0) return { ok: false, detail: `Extra query parameter(s) ${extra.join(', ')} not in spec` };
  // Stricter than connexion, which keeps one of the copies: a repeated parameter is a client bug.
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated !== undefined) return { ok: false, detail: `Query parameter '${repeated}' given more than once` };
  const missing = spec.required.find((name) => !search.has(name));
  if (missing !== undefined) return { ok: false, detail: `Missing query parameter '${missing}'` };

  const values: Record<string, QueryValue> = {};
  for (const [name, text] of search) {
    const type = spec.params[name];
    if (type === 'boolean') {
      const value = readBoolean(text);
      if (value === undefined) return { ok: false, detail: `Wrong type, expected 'boolean' for query parameter '${name}'` };
      values[name] = value;
    } else if (typeof type === 'object') {
      if (!type.oneOf.includes(text)) {
        return { ok: false, detail: `'${text}' is not one of [${type.oneOf.map((choice) => `'${choice}'`).join(', ')}]` };
      }
      values[name] = text;
    } else {
      values[name] = text;
    }
  }
  return { ok: true, value: values };
}

export interface BuildLogDetail {
  readonly log?: string | null;
  readonly apiversion?: string | null;
  readonly kind?: string | null;
  readonly metadata?: string | null;
}

/** The body of POST /build-analysis as the stub accepted it. */
export interface BuildDetail {
  readonly base_image?: string | null;
  readonly output_image?: string | null;
  readonly build_log?: BuildLogDetail;
}

const NULLABLE_STRING_FIELDS = {
  top: ['base_image', 'output_image'],
  buildLog: ['log', 'apiversion', 'kind', 'metadata'],
} as const;

function typeName(value: unknown): string {
  return value === null ? 'None' : Array.isArray(value) ? 'list' : typeof value;
}

function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates the JSON body. Unknown keys are refused too (Thoth would silently ignore them,
 * which would hide a misspelt field on our side).
 */
export function checkBuildDetail(contentType: string | undefined, raw: Buffer): Checked<BuildDetail> & { readonly status?: 415 } {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType !== 'application/json' && !mediaType.endsWith('+json')) {
    return { ok: false, status: 415, detail: `Invalid Content-type (${contentType ?? ''}), expected JSON data` };
  }
  if (raw.length === 0) return { ok: false, detail: 'Request body is not valid JSON' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return { ok: false, detail: 'Request body is not valid JSON' };
  }
  if (!isPlainObject(parsed)) return { ok: false, detail: `${JSON.stringify(parsed)} is not of type 'object'` };

  for (const key of Object.keys(parsed)) {
    if (!['base_image', 'output_image', 'build_log'].includes(key)) {
      return { ok: false, detail: `Additional properties are not allowed ('${key}' was unexpected)` };
    }
  }
  for (const key of NULLABLE_STRING_FIELDS.top) {
    const value = parsed[key];
    if (value !== undefined && value !== null && typeof value !== 'string') {
      return { ok: false, detail: `${typeName(value)} is not of type 'string' - '${key}'` };
    }
  }
  const buildLog = parsed['build_log'];
  if (buildLog !== undefined) {
    if (!isPlainObject(buildLog)) return { ok: false, detail: `${typeName(buildLog)} is not of type 'object' - 'build_log'` };
    for (const key of Object.keys(buildLog)) {
      if (!(NULLABLE_STRING_FIELDS.buildLog as readonly string[]).includes(key)) {
        return { ok: false, detail: `Additional properties are not allowed ('${key}' was unexpected) - 'build_log'` };
      }
    }
    for (const key of NULLABLE_STRING_FIELDS.buildLog) {
      const value = buildLog[key];
      if (value !== undefined && value !== null && typeof value !== 'string') {
        return { ok: false, detail: `${typeName(value)} is not of type 'string' - 'build_log.${key}'` };
      }
    }
  }
  return { ok: true, value: parsed as BuildDetail };
}

/** Python truthiness, which is what the server uses to decide "no input at all". */
export function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === '' || value === 0) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return true;
}
