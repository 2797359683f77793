// Tests of run.mjs, with fake functions written in Node (fixtures/fake-function.mjs) and
// small state machines (fixtures/*.asl.json). Run with `npm test` (node --test).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadDefinition, prepareForRun } from './run.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures');
const fake = join(fixtures, 'fake-function.mjs');
const machines = join(here, '..', '..', 'statemachine');

/** Runs the harness on a job; returns its exit code, its parsed report (if any) and stderr. */
function harness(job, args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'run.mjs'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, report: code === 0 ? JSON.parse(stdout) : undefined, stderr }));
    child.stdin.end(JSON.stringify(job));
  });
}

/** A run job of fixtures/task.asl.json calling the fake function as "echo". */
function taskJob(input, extra = {}) {
  return {
    definition: join(fixtures, 'task.asl.json'),
    substitutions: { FunctionArn: 'echo' },
    name: 'run-1',
    input,
    functions: { echo: fake },
    ...extra,
  };
}

/** The largest number of invocations in progress at once. */
function maxOverlap(invocations) {
  // An end sorts before a start at the same time: one invocation follows the other.
  const edges = invocations.flatMap((i) => [
    [i.start_ms, 1],
    [i.start_ms + i.duration_ms, -1],
  ]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let max = 0;
  for (const [, step] of edges) {
    current += step;
    max = Math.max(max, current);
  }
  return max;
}

test('the real state machines load: every placeholder substituted, accepted by the validation', () => {
  const files = readdirSync(machines).filter((file) => file.endsWith('.asl.json'));
  assert.ok(files.length >= 2, `state machines in ${machines}`);
  for (const file of files) {
    const path = join(machines, file);
    const names = [...readFileSync(path, 'utf8').matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]);
    assert.ok(names.length > 0, `${file} has placeholders`);
    const substitutions = Object.fromEntries(names.map((name) => [name, name.replace(/FunctionArn$/, '').toLowerCase()]));
    const { definition, machineName } = loadDefinition(path, substitutions);
    assert.equal(machineName, file.replace('.asl.json', ''));
    assert.doesNotMatch(JSON.stringify(definition), /\$\{/);
    // Every task is one the harness serves, Wait states included when capped.
    const { tasks } = prepareForRun(definition, { waitCap: 2 });
    assert.ok(tasks.size > 0);
  }
});

test('a task succeeds: Runtime API headers and environment, ResultSelector on the Payload', async () => {
  const { code, report, stderr } = await harness(taskJob({ hello: 'world' }, { env: { FAKE_TAG: 'tagged' } }));
  assert.equal(code, 0, stderr);
  assert.equal(report.status, 'SUCCEEDED');
  assert.deepEqual(report.output.result.event, { hello: 'world' });
  assert.equal(report.output.result.function, 'echo');
  assert.equal(report.output.result.version, '$LATEST');
  assert.equal(report.output.result.status, 200);
  assert.equal(report.output.result.arn, 'arn:aws:lambda:us-east-1:123456789012:function:echo');
  assert.equal(report.output.result.deadline_in_future, true);
  assert.deepEqual(report.output.result.env, {
    AWS_LAMBDA_FUNCTION_NAME: 'echo',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/echo',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    _HANDLER: 'bootstrap',
    FAKE_TAG: 'tagged',
  });
  assert.equal(report.executions.length, 1);
  assert.equal(report.executions[0].name, 'run-1');
  assert.equal(report.executions[0].state_transitions, 1);
  assert.equal(report.invocations.length, 1);
  assert.equal(report.invocations[0].cold, true);
  assert.equal(report.cold_starts.length, 1);
  assert.ok(report.cold_starts[0].init_ms > 0);
  // The function's own output goes to stderr, prefixed with its instance.
  assert.match(stderr, /^\[echo#1\] invocation 1: \{"hello":"world"\}$/m);
});

test("a function's error is caught with Step Functions' Error and Cause", async () => {
  const { code, report, stderr } = await harness(taskJob({ fail: 'Export.Running' }));
  assert.equal(code, 0, stderr);
  assert.equal(report.status, 'SUCCEEDED');
  assert.equal(report.output.error.Error, 'Export.Running');
  assert.deepEqual(JSON.parse(report.output.error.Cause), {
    errorType: 'Export.Running',
    errorMessage: 'failed on call 1',
    trace: [],
  });
  assert.equal(report.invocations[0].error_type, 'Export.Running');
});

test('an error type with a Retry is retried on the warm instance, then succeeds', async () => {
  const started = Date.now();
  const { code, report, stderr } = await harness(taskJob({ fail_first: 'Store.Unavailable' }, { retry_interval_ms: 50 }));
  assert.equal(code, 0, stderr);
  assert.equal(report.status, 'SUCCEEDED');
  assert.equal(report.output.result.calls, 2);
  const [first, second] = report.invocations;
  assert.deepEqual([first.instance, first.cold, first.error_type], [1, true, 'Store.Unavailable']);
  assert.deepEqual([second.instance, second.cold, second.error_type], [1, false, undefined]);
  // The Retry's own interval is 30 s with full jitter; the override makes it 50 ms.
  assert.ok(Date.now() - started < 10_000);
  assert.ok(report.notes.some((note) => note.startsWith('retry_interval_ms')));
  // Entered once, retried once.
  assert.equal(report.executions[0].state_transitions, 2);
});

test('a Map with MaxConcurrency 3 spreads over several instances, never more than 3 at once', async () => {
  const items = [1, 2, 3, 4, 5, 6, 7];
  const { code, report, stderr } = await harness({
    definition: join(fixtures, 'map.asl.json'),
    substitutions: { WorkerArn: 'worker' },
    name: 'map',
    input: { items, sleep_ms: 300 },
    functions: { worker: fake },
  });
  assert.equal(code, 0, stderr);
  assert.equal(report.status, 'SUCCEEDED');
  assert.deepEqual(
    report.output.results.map((r) => r.item),
    items,
  );
  assert.equal(report.invocations.length, items.length);
  const instances = new Set(report.invocations.map((i) => i.instance));
  assert.ok(instances.size > 1, `instances: ${[...instances]}`);
  assert.ok(instances.size <= 3, `instances: ${[...instances]}`);
  assert.equal(report.invocations.filter((i) => i.cold).length, instances.size);
  assert.equal(report.cold_starts.length, instances.size);
  const overlap = maxOverlap(report.invocations);
  assert.ok(overlap > 1 && overlap <= 3, `at most 3 at once, got ${overlap}`);
});

test('an instance that exits during an invocation fails it with Runtime.ExitError', async () => {
  const { code, report, stderr } = await harness(taskJob({ exit: 3 }));
  assert.equal(code, 0, stderr);
  assert.equal(report.status, 'FAILED');
  assert.equal(report.error, 'Runtime.ExitError');
  const cause = JSON.parse(report.cause);
  assert.equal(cause.errorType, 'Runtime.ExitError');
  assert.match(cause.errorMessage, /^RequestId: \S+ Error: Runtime exited with error: exit status 3$/);
  assert.equal(report.executions[0].status, 'FAILED');
  assert.equal(report.invocations[0].error_type, 'Runtime.ExitError');
  assert.match(stderr, /\[echo#1\] exiting with 3/);
});

test("an init error fails the pending invocation with the error's type", async () => {
  const { code, report, stderr } = await harness(taskJob({}, { env: { FAKE_INIT_ERROR: 'Config.Missing' } }));
  assert.equal(code, 0, stderr);
  assert.equal(report.status, 'FAILED');
  assert.equal(report.error, 'Config.Missing');
  assert.equal(JSON.parse(report.cause).errorMessage, 'cannot start');
  assert.deepEqual(report.cold_starts, []);
});

test('startExecution goes on in new executions; a repeated start is idempotent while it runs', async () => {
  const { code, report, stderr } = await harness({
    definition: join(fixtures, 'continue.asl.json'),
    substitutions: { StepArn: 'step' },
    name: 'run-0',
    input: { run_id: 'r', generation: 0 },
    functions: { step: fake },
  });
  assert.equal(code, 0, stderr);
  assert.equal(report.status, 'SUCCEEDED');
  assert.deepEqual(
    report.executions.map((e) => [e.name, e.status, e.input.generation]),
    [
      ['run-0', 'SUCCEEDED', 0],
      ['r-1', 'SUCCEEDED', 1],
      ['r-2', 'SUCCEEDED', 2],
    ],
  );
  const arn = 'arn:aws:states:us-east-1:123456789012:execution:continue:r-1';
  assert.equal(report.output.started.ExecutionArn, arn);
  assert.ok(!Number.isNaN(Date.parse(report.output.started.StartDate)));
  assert.deepEqual(report.output.again, report.output.started);
  // One step per execution, all on the one warm instance after the first.
  assert.equal(report.invocations.length, 3);
  assert.equal(report.cold_starts.length, 1);
});

test('startExecution of a name already used is caught as ExecutionAlreadyExists', async () => {
  // The execution "r-1" would start "r-1" again, with another input.
  const { code, report, stderr } = await harness({
    definition: join(fixtures, 'continue.asl.json'),
    substitutions: { StepArn: 'step' },
    name: 'r-1',
    input: { run_id: 'r', generation: 0 },
    functions: { step: fake },
  });
  assert.equal(code, 0, stderr);
  assert.equal(report.status, 'SUCCEEDED');
  assert.equal(report.output.error.Error, 'StepFunctions.ExecutionAlreadyExistsException');
  assert.match(report.output.error.Cause, /execution:continue:r-1/);
  assert.deepEqual(
    report.executions.map((e) => e.name),
    ['r-1'],
  );
});

test('wait_seconds_cap shortens long waits only', async () => {
  const { code, report, stderr } = await harness({
    definition: join(fixtures, 'wait.asl.json'),
    substitutions: { FunctionArn: 'echo' },
    name: 'wait',
    input: { long_seconds: 30 },
    functions: { echo: fake },
    wait_seconds_cap: 2,
  });
  assert.equal(code, 0, stderr);
  assert.equal(report.status, 'SUCCEEDED');
  assert.deepEqual(report.output, { long_seconds: 30 });
  const [before, after] = report.invocations;
  const waited = after.start_ms - (before.start_ms + before.duration_ms);
  // 2 s (30 s capped) + 1 s (under the cap); a fixed cap for both would be 4 s.
  assert.ok(waited >= 2900 && waited < 3800, `waited ${waited} ms`);
  assert.ok(report.notes.some((note) => note.startsWith('wait_seconds_cap')));
});

test('timeout_seconds reports the execution TIMED_OUT and stops', async () => {
  const started = Date.now();
  const { code, report, stderr } = await harness({
    definition: join(fixtures, 'wait.asl.json'),
    substitutions: { FunctionArn: 'echo' },
    name: 'slow',
    input: { long_seconds: 30 },
    functions: { echo: fake },
    timeout_seconds: 1,
  });
  assert.equal(code, 0, stderr);
  assert.equal(report.status, 'TIMED_OUT');
  assert.equal(report.executions[0].status, 'TIMED_OUT');
  assert.ok(Date.now() - started < 10_000);
});

test('harness errors: a placeholder without substitution, an unknown function', async () => {
  const unsubstituted = await harness(taskJob({}, { substitutions: {} }));
  assert.equal(unsubstituted.code, 1);
  assert.match(unsubstituted.stderr, /no substitution for \$\{FunctionArn\}/);

  const unknown = await harness(taskJob({}, { functions: { other: fake } }));
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no binary for the function "echo"/);
});

test('--cold-start reports init times per function', async () => {
  const { code, report, stderr } = await harness({ functions: { a: fake, b: fake }, runs: 3 }, ['--cold-start']);
  assert.equal(code, 0, stderr);
  assert.deepEqual(Object.keys(report.cold_start), ['a', 'b']);
  for (const stats of Object.values(report.cold_start)) {
    assert.deepEqual(Object.keys(stats), ['runs', 'min_ms', 'median_ms', 'p90_ms', 'max_ms']);
    assert.equal(stats.runs, 3);
    assert.ok(stats.min_ms > 0);
    assert.ok(stats.min_ms <= stats.median_ms && stats.median_ms <= stats.p90_ms && stats.p90_ms <= stats.max_ms);
  }
});
