/**
 * The JSON Schema of dev.build-watcher.image.built data (knative/schemas/), compiled once with
 * ajv in strict mode: tests of the function's replies validate real replies with it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { REPO_ROOT } from './manifests.js';

export const IMAGE_BUILT_TYPE = 'dev.build-watcher.image.built';
export const IMAGE_BUILT_SCHEMA_PATH = join(REPO_ROOT, 'knative/schemas', `${IMAGE_BUILT_TYPE}.json`);

/** Validates the data of one dev.build-watcher.image.built event; the errors say where it fails. */
export function imageBuiltValidator(): (data: unknown) => { valid: boolean; errors: string } {
  const schema: unknown = JSON.parse(readFileSync(IMAGE_BUILT_SCHEMA_PATH, 'utf8'));
  const ajv = new Ajv2020.default({ strict: true, allErrors: true });
  if (typeof schema !== 'object' || schema === null) throw new Error('the schema is not an object');
  const validate = ajv.compile(schema);
  return (data) => ({ valid: validate(data) === true, errors: ajv.errorsText(validate.errors) });
}
