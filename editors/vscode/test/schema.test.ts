// The features.json schema contributed through jsonValidation: VS Code checks the structure
// with it even without the server, so it must accept what design §2 allows and nothing less.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv';

const schema = JSON.parse(readFileSync(resolve(__dirname, '../../schemas/features.schema.json'), 'utf8'));
// strict: false lets VS Code's own keywords (patternErrorMessage) through.
const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
const example = (path: string) => JSON.parse(readFileSync(resolve(__dirname, '../../../../examples', path), 'utf8'));

function errorsOf(document: unknown): string[] {
  return validate(document) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

const feature = { id: 'feat-a', description: 'd', milestone: 'm', status: 'pending', fulfills: ['VAL-AUTH-001'] };

test('the example missions\' features.json files are valid, extra fields and all', () => {
  assert.deepEqual(errorsOf(example('clean/features.json')), []);
  assert.deepEqual(errorsOf({ features: [{ ...feature, ownerNote: 'kept by the runner' }] }), []);
});

test('fix features need no claims and may not make any', () => {
  assert.deepEqual(errorsOf({ features: [{ id: 'fix-1', description: 'd', milestone: 'm', status: 'pending', kind: 'fix', fixes: ['ISS-m-1-001'] }] }), []);
  assert.notDeepEqual(errorsOf({ features: [{ ...feature, kind: 'fix' }] }), []);
});

test('missing required fields, unknown statuses and malformed assertion ids are reported', () => {
  const { fulfills: _omitted, ...unclaimed } = feature;
  assert.ok(errorsOf({ features: [unclaimed] }).some((e) => e.includes("must have required property 'fulfills'")));
  assert.ok(errorsOf({ features: [{ ...feature, status: 'done' }] }).some((e) => e.startsWith('/features/0/status')));
  assert.ok(errorsOf({ features: [{ ...feature, fulfills: ['VAL-auth-1'] }] }).some((e) => e.startsWith('/features/0/fulfills/0')));
  assert.deepEqual(errorsOf({ features: [{ ...feature, fulfills: ['VAL-CROSS-AUTH-0001'] }] }), [], 'several area segments and more digits are fine');
});
