import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

// The official Atlas Admin API v2 spec, in two subsets (test/fixtures/atlas/SOURCE.txt).
interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly required?: boolean;
  readonly schema?: Record<string, unknown>;
  readonly $ref?: string;
}
interface Operation {
  readonly operationId: string;
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: { readonly content: Record<string, { readonly schema: Record<string, unknown> }> };
  readonly responses: Record<string, { readonly content?: Record<string, unknown>; readonly $ref?: string }>;
}
interface Spec {
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: {
    readonly parameters: Record<string, Parameter>;
    readonly schemas: Record<string, Record<string, unknown>>;
    readonly responses?: Record<string, unknown>;
  };
}

/** A request as it went over the wire. */
export interface WireRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  readonly accept: string | undefined;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

const readSubset = (file: string): Spec =>
  parse(readFileSync(new URL(`../fixtures/atlas/${file}`, import.meta.url), 'utf8')) as Spec;
// The users/orgs/projects subset, and the teams/federation/database access subset beside it.
const subsets = [
  readSubset('atlas-admin-api-v2.users-orgs-groups.subset.yaml'),
  readSubset('atlas-admin-api-v2.access.subset.yaml'),
];
const spec = {
  paths: Object.assign({}, ...subsets.map((s) => s.paths)),
  // Every section (schemas, parameters, responses, headers, …), the two subsets' entries together.
  components: Object.fromEntries(
    [...new Set(subsets.flatMap((s) => Object.keys(s.components)))].map((section) => [
      section,
      Object.assign({}, ...subsets.map((s) => (s.components as Record<string, object>)[section] ?? {})),
    ]),
  ),
} as Spec;

// Most of the spec's patterns need the u flag (`\p{L}`), but a few escape characters that need none
// (NetworkPermissionEntry.cidrBlock's `\:`), which a unicode RegExp refuses: those compile without it.
const specRegExp = Object.assign(
  (pattern: string, flags: string) => {
    try {
      return new RegExp(pattern, flags);
    } catch {
      return new RegExp(pattern, flags.replace('u', ''));
    }
  },
  { code: 'specRegExp' },
);
const ajv = new Ajv({ strict: false, allErrors: true, code: { regExp: specRegExp } });
addFormats.default(ajv);
for (const format of ['int32', 'int64', 'float', 'double', 'byte', 'binary']) ajv.addFormat(format, true);
ajv.addSchema(spec as unknown as Record<string, unknown>, 'spec');

const compiled = new Map<string, ValidateFunction>();
function validatorFor(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(rewriteRefs(schema) as Record<string, unknown>);
    compiled.set(key, validate);
  }
  return validate;
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === '$ref' && typeof v === 'string' ? `spec${v}` : rewriteRefs(v),
      ]),
    );
  }
  return value;
}

function resolve<T>(value: T & { $ref?: string }): T {
  if (!value.$ref) return value;
  const parts = value.$ref.replace(/^#\//, '').split('/');
  return parts.reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], spec) as T;
}

/** Properties sent that the schema does not declare (Atlas rejects unknown fields with 400). */
function undeclared(body: unknown, schema: Record<string, unknown>, at = 'body'): string[] {
  const resolved = resolve(schema as Record<string, unknown> & { $ref?: string });
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    const items = resolved.items as Record<string, unknown> | undefined;
    return Array.isArray(body) && items
      ? body.flatMap((item, i) => undeclared(item, items, `${at}[${i}]`))
      : [];
  }
  const properties = (resolved.properties ?? {}) as Record<string, Record<string, unknown>>;
  return Object.entries(body).flatMap(([key, value]) => {
    const property = properties[key];
    if (!property) return [`${at}.${key} is not in the schema`];
    if (
      (resolve(property as Record<string, unknown> & { $ref?: string }) as { readOnly?: boolean }).readOnly
    ) {
      return [`${at}.${key} is read-only`];
    }
    return undeclared(value, property, `${at}.${key}`);
  });
}

/** The spec's path template and operation for a method and path, or why there is none. */
function operationFor(
  method: string,
  pathname: string,
): { template: string; operation: Operation; values: Record<string, string> } | string {
  const match = Object.entries(spec.paths)
    .map(([template, item]) => {
      const names: string[] = [];
      const pattern = template
        .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
        .replace(/\{(\w+)\}/g, (_, name: string) => {
          names.push(name);
          return '([^/:]+)';
        });
      const found = new RegExp(`^${pattern}$`).exec(pathname);
      return found
        ? { template, item, values: Object.fromEntries(names.map((n, i) => [n, found[i + 1] ?? ''])) }
        : undefined;
    })
    .find((m) => m !== undefined);
  if (!match) return `${pathname} is not a path of the spec`;
  const operation = match.item[method.toLowerCase()];
  if (!operation) return `${method} is not an operation of ${match.template}`;
  return { template: match.template, operation, values: match.values };
}

/** Everything the official spec says is wrong with a request; [] when it conforms. */
export function checkAgainstSpec(request: WireRequest): string[] {
  const url = new URL(request.path, 'http://spec');
  const problems: string[] = [];
  const match = operationFor(request.method, url.pathname);
  if (typeof match === 'string') return [match];
  const { operation } = match;
  const parameters = (operation.parameters ?? []).map((p) => resolve(p as Parameter & { $ref?: string }));
  for (const parameter of parameters.filter((p) => p.in === 'path')) {
    const value = decodeURIComponent(match.values[parameter.name] ?? '');
    const validate = validatorFor(parameter.schema ?? {});
    if (!validate(value))
      problems.push(`path parameter ${parameter.name}="${value}": ${ajv.errorsText(validate.errors)}`);
  }
  for (const name of new Set(url.searchParams.keys())) {
    const value = url.searchParams.get(name) ?? '';
    const parameter = parameters.find((p) => p.in === 'query' && p.name === name);
    if (!parameter) {
      problems.push(`query parameter ${name} is not declared by ${operation.operationId}`);
      continue;
    }
    const schema = parameter.schema ?? {};
    // An array parameter is the parameter repeated (OpenAPI style form, explode true).
    const typed =
      schema.type === 'array'
        ? url.searchParams.getAll(name)
        : schema.type === 'boolean'
          ? value === 'true'
          : schema.type === 'integer'
            ? Number(value)
            : value;
    const validate = validatorFor(schema);
    if (!validate(typed))
      problems.push(`query parameter ${name}="${value}": ${ajv.errorsText(validate.errors)}`);
  }
  const success = Object.entries(operation.responses).find(([status]) => status.startsWith('2'))?.[1];
  const accepted = Object.keys(resolve(success ?? { content: {} }).content ?? {});
  if (success && accepted.length > 0 && !accepted.includes(request.accept ?? '')) {
    problems.push(
      `Accept ${request.accept} is not one of ${accepted.join(', ')} for ${operation.operationId}`,
    );
  }
  if (request.body !== undefined) {
    const content = operation.requestBody?.content ?? {};
    const media = content[request.contentType ?? ''];
    if (!media) {
      problems.push(
        `Content-Type ${request.contentType} is not one of ${Object.keys(content).join(', ') || '(no body)'}`,
      );
    } else {
      const validate = validatorFor(media.schema);
      if (!validate(request.body)) problems.push(`body: ${ajv.errorsText(validate.errors)}`);
      problems.push(...undeclared(request.body, media.schema));
    }
    if (request.accept !== request.contentType)
      problems.push('Accept and Content-Type name different versions');
  } else if (operation.requestBody && (operation.requestBody as { required?: boolean }).required) {
    problems.push(`${operation.operationId} requires a body`);
  }
  return problems;
}

/** A successful answer as it went over the wire. */
export interface WireResponse {
  readonly method: string;
  /** Path and query of the request. */
  readonly path: string;
  readonly status: number;
  /** The media type asked for (Accept). */
  readonly accept: string | undefined;
  /** The body answered; undefined for none. */
  readonly response: unknown;
}

// Responses use `discriminator` + `oneOf` whose branches `allOf` the parent again (OrgUserResponse ->
// OrgActiveUserResponse -> OrgUserResponse ...), which a JSON Schema validator follows forever. For
// responses the parent becomes its own properties plus `if orgMembershipStatus = X then <mapped branch>`,
// and the branches extend the parent's own properties only.
function discriminatedSchemas(): Record<string, Record<string, unknown>> {
  const schemas = structuredClone(spec.components.schemas);
  const parents = Object.entries(spec.components.schemas).filter(
    ([, schema]) => schema.discriminator !== undefined && schema.oneOf !== undefined,
  );
  const baseRef = (name: string) => `#/components/schemas/${name}__own`;
  for (const [name, schema] of parents) {
    const {
      discriminator,
      oneOf: _branches,
      ...own
    } = schema as Record<string, unknown> & {
      discriminator: { propertyName: string; mapping: Record<string, string> };
    };
    schemas[`${name}__own`] = own;
    const key = discriminator.propertyName;
    schemas[name] = {
      allOf: [
        { $ref: baseRef(name) },
        ...Object.entries(discriminator.mapping).map(([value, target]) => ({
          if: { properties: { [key]: { const: value } }, required: [key] },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, not a thenable.
          then: { $ref: target },
        })),
      ],
    };
  }
  for (const [name, schema] of Object.entries(schemas)) {
    if (name.endsWith('__own') || !Array.isArray(schema.allOf)) continue;
    if (parents.some(([parent]) => parent === name)) continue;
    schema.allOf = (schema.allOf as Record<string, unknown>[]).map((part) => {
      const parent = parents.find(([p]) => part.$ref === `#/components/schemas/${p}`);
      return parent ? { ...part, $ref: baseRef(parent[0]) } : part;
    });
  }
  return schemas;
}

const responseAjv = new Ajv({ strict: false, allErrors: true, code: { regExp: specRegExp } });
addFormats.default(responseAjv);
for (const format of ['int32', 'int64', 'float', 'double', 'byte', 'binary'])
  responseAjv.addFormat(format, true);
responseAjv.addSchema(
  { ...spec, components: { ...spec.components, schemas: discriminatedSchemas() } } as unknown as Record<
    string,
    unknown
  >,
  'responses',
);
const responseValidators = new Map<string, ValidateFunction>();

/**
 * Everything the official spec says is wrong with a successful (2xx) answer: its status is one the
 * operation declares, and its body matches the schema of the media type asked for (a 204 has none).
 * Error bodies are not checked: the spec types `ApiError.parameters` as objects, while Atlas sends
 * strings and numbers (NOTES.md section 9).
 */
export function checkResponseAgainstSpec(answer: WireResponse): string[] {
  if (answer.status < 200 || answer.status >= 300) return [];
  const url = new URL(answer.path, 'http://spec');
  const match = operationFor(answer.method, url.pathname);
  if (typeof match === 'string') return [match];
  const declared = match.operation.responses[String(answer.status)];
  if (!declared) return [`${answer.status} is not a response of ${match.operation.operationId}`];
  const content = (resolve(declared).content ?? {}) as Record<string, { schema?: Record<string, unknown> }>;
  const media = content[answer.accept ?? ''];
  if (!media)
    return [`${answer.accept} is not a media type of ${match.operation.operationId} ${answer.status}`];
  if (!media.schema) return answer.response === undefined ? [] : ['a body where the spec declares none'];
  const key = JSON.stringify(media.schema);
  let validate = responseValidators.get(key);
  if (!validate) {
    validate = responseAjv.compile(
      JSON.parse(key.replaceAll('"$ref":"#/', '"$ref":"responses#/')) as Record<string, unknown>,
    );
    responseValidators.set(key, validate);
  }
  return validate(answer.response) ? [] : [`response: ${responseAjv.errorsText(validate.errors)}`];
}
