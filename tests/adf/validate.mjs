#!/usr/bin/env node
// Validates ADF documents with the official Atlassian tooling.
//
// Usage: node validate.mjs <file.json>
//
// The file holds a JSON array of ADF documents. Each document is checked twice:
//   1. against the official JSON schema, @atlaskit/adf-schema/dist/json-schema/v1/full.json
//      (draft-04, with ajv-draft-04; all errors are collected for an invalid document);
//   2. with Atlassian's own validator, validator() from @atlaskit/adf-utils/validator, in strict
//      mode:
//        - without an error callback, the validator throws on the first node that no allowed
//          spec accepts. This is the verdict: it is complete (a valid document is walked to
//          the end; anything invalid throws).
//        - with an error callback that records every error and returns the entity unchanged
//          (so nothing is repaired and the validator's choices are not influenced). The
//          validator tries alternative specs for some nodes (a text node is tried as
//          "formatted text" before "code text") and reports the failures of alternatives it
//          then discards to the callback too; so recorded errors are listed for every failing
//          document, and for a passing document they are only counted as
//          "discardedAlternatives".
//
// Prints a JSON report on stdout: { total, failed, failures: [{ index, schemaErrors,
// validatorThrew, validatorErrors }] } and exits 1 if any document fails either check (2 on
// usage or input errors).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

// The Atlassian packages consult feature gates through a client that is never initialised
// outside their products and log about it; keep stdout for the report only.
for (const method of ['log', 'info', 'warn', 'error', 'debug']) {
  console[method] = (...args) => {
    const text = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    if (!/feature gate|Client must be initialized/i.test(text)) {
      process.stderr.write(`[${method}] ${text}\n`);
    }
  };
}

const Ajv04 = require('ajv-draft-04');
const { validator } = require('@atlaskit/adf-utils/validator');

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const file = process.argv[2];
if (!file) {
  fail('usage: node validate.mjs <file.json holding an array of ADF documents>');
}

let docs;
try {
  docs = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  fail(`cannot read ${file}: ${e.message}`);
}
if (!Array.isArray(docs)) {
  fail(`${file} must hold a JSON array of ADF documents`);
}

const schemaPath = join(here, 'node_modules/@atlaskit/adf-schema/dist/json-schema/v1/full.json');
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
const Ajv = Ajv04.default || Ajv04;
// allErrors makes anyOf try every branch, which is very slow on large valid documents: decide
// validity with the default validator and collect all errors only for invalid documents.
const schemaIsValid = new Ajv({ strict: false }).compile(schema);
const schemaValidate = new Ajv({ allErrors: true, strict: false }).compile(schema);

const validate = validator(undefined, undefined, { mode: 'strict' });

const failures = [];
let discardedAlternatives = 0;
docs.forEach((doc, index) => {
  const failure = { index };
  let failed = false;

  if (!schemaIsValid(doc) && !schemaValidate(doc)) {
    failed = true;
    failure.schemaErrors = (schemaValidate.errors || []).map(
      (e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
    );
    // anyOf produces many errors; keep the report readable.
    if (failure.schemaErrors.length > 20) {
      failure.schemaErrors = failure.schemaErrors.slice(0, 20).concat('...');
    }
  }

  try {
    validate(structuredClone(doc));
  } catch (e) {
    failed = true;
    failure.validatorThrew = e.message;
  }

  const recorded = [];
  try {
    validate(structuredClone(doc), (entity, error) => {
      recorded.push({
        type: entity && entity.type,
        code: error.code,
        message: error.message,
        meta: error.meta,
      });
      return entity;
    });
  } catch (e) {
    failed = true;
    recorded.push({ code: 'EXCEPTION', message: e.message });
  }
  if (failed) {
    failure.validatorErrors = recorded;
  } else {
    discardedAlternatives += recorded.length;
  }

  if (failed) failures.push(failure);
});

process.stdout.write(
  `${JSON.stringify({ total: docs.length, failed: failures.length, discardedAlternatives, failures }, null, 2)}\n`,
);
// Let stdout drain before exiting (process.exit could cut a large report short on a pipe).
process.exitCode = failures.length === 0 ? 0 : 1;
