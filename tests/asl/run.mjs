#!/usr/bin/env node
// Runs a state machine of statemachine/*.asl.json under an independent interpreter,
// aws-local-stepfunctions, with every Lambda task sent to a real Lambda bootstrap binary
// through a stand-in of the Lambda Runtime API.
//
// Usage:
//   node run.mjs < job.json                run one execution (and the ones it starts)
//   node run.mjs --cold-start < job.json   measure the functions' init phase
//
// The job is one JSON object on stdin; the report is one JSON object on stdout. The functions'
// own output goes to stderr, each line prefixed with [function#instance]. Exit status 0 when
// the harness worked (a FAILED execution included), 1 on a harness error (its message on
// stderr).
//
// Run job:
//   definition         path of the .asl.json file
//   substitutions      {"Name": "value"}: each ${Name} in the file's text is replaced before
//                      parsing; a ${...} left over is a harness error
//   name, input        the execution's name (default "execution") and input (default {})
//   functions          {"function-name": "/path/to/bootstrap"}: FunctionName -> binary
//   env                extra environment of every function process
//   wait_seconds_cap   optional: a Wait state waits min(its time, cap) seconds
//   retry_interval_ms  optional: every retry waits this long (no backoff, no jitter)
//   timeout_seconds    optional: the whole job; on expiry the executions still running are
//                      reported TIMED_OUT and every process is killed
// Run report:
//   {status, output | error + cause (of the first execution),
//    executions: [{name, status, input, output | error + cause, state_transitions, events}],
//    invocations: [{function, instance, cold, start_ms, duration_ms, error_type?}],
//    cold_starts: [{function, instance, init_ms}], notes: [...]}
//   Times are milliseconds; start_ms counts from the job's start; duration_ms runs from the
//   task's call to the function's answer (a cold start's init included); init_ms from the
//   spawn to the instance's first GET /next. state_transitions counts the states entered and
//   the retries; events counts the interpreter's event log (not AWS's history events).
//
// Cold-start job: {functions, env, runs (default 20)}. Each function is spawned `runs` times,
// one after another, timed from the spawn to its first GET /next, then killed. Report:
//   {cold_start: {"function-name": {runs, min_ms, median_ms, p90_ms, max_ms}}}

import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import http from 'node:http';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

// aws-local-stepfunctions 3.0.0 calls Promise.withResolvers (Node 22); Node 20 lacks it, so it
// is installed before the library is loaded.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
const { StateMachine, ExecutionError, ExecutionTimeoutError } = await import('aws-local-stepfunctions');

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const START_EXECUTION = 'arn:aws:states:::states:startExecution';
// The resource of a Wait state rewritten into a task when wait_seconds_cap is set (see
// cappedWait); it never leaves the harness.
const CAPPED_WAIT = 'arn:aws:states:::harness:cappedWait';
const ACCOUNT = '123456789012';
// AWS gives a Task state without TimeoutSeconds no timeout of its own (99999999 s); the library
// would give it 60 s. This is the longest a Node timer holds (2^31 - 1 ms).
const NO_TASK_TIMEOUT_SECONDS = 2147483;
// The harness does not end a slow function; its deadline header says Lambda's longest timeout.
const FUNCTION_DEADLINE_MS = 900_000;
// Lambda's limit on a function's init phase, applied to the cold-start measurements.
const INIT_LIMIT_MS = 10_000;
const RUNTIME = '/2018-06-01/runtime';

/** A failure of the harness or of its job, not of the execution under test. The library
 * neither retries nor catches an error whose isRetryable and isCatchable are false, so an
 * execution that meets one stops at once. */
class HarnessError extends Error {
  name = 'HarnessError';
  get isRetryable() {
    return false;
  }
  get isCatchable() {
    return false;
  }
}

/** An error as the interpreter sees it: Retry and Catch match its name (the ASL Error) and a
 * Catch hands on its message as the Cause. */
class StatesError extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

const round2 = (ms) => Math.round(ms * 100) / 100;
const msBetween = (from, to) => round2(Number(to - from) / 1e6);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads a state machine file, substitutes its ${Name} placeholders and checks the result with
 * the library's own validation. Returns {definition, machineName}. */
export function loadDefinition(path, substitutions) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new HarnessError(`cannot read the definition: ${error.message}`);
  }
  const missing = new Set();
  // Values are JSON-escaped: the placeholders sit inside JSON strings.
  text = text.replace(/\$\{([^}]*)\}/g, (placeholder, name) => {
    if (!Object.hasOwn(substitutions, name)) {
      missing.add(placeholder);
      return placeholder;
    }
    return JSON.stringify(String(substitutions[name])).slice(1, -1);
  });
  if (missing.size > 0) {
    throw new HarnessError(`${path}: no substitution for ${[...missing].join(', ')}`);
  }
  let definition;
  try {
    definition = JSON.parse(text);
    new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
  } catch (error) {
    throw new HarnessError(`${path}: ${error.message}`);
  }
  return { definition, machineName: basename(path).replace(/(\.asl)?\.json$/, '') };
}

/** The copy of a definition the harness runs:
 * - a Task state without a timeout gets NO_TASK_TIMEOUT_SECONDS, as on AWS;
 * - with a wait cap, each Wait state becomes a CAPPED_WAIT task (cappedWait);
 * - only the resources the harness serves are accepted, and JSONata is refused (the library
 *   would silently read JSONata states as JSONPath).
 * Also returns the resource of every Task state by name, and the names of the states with a
 * Retry: the library's overrides go by state name, nested ones (a Map's) included. */
export function prepareForRun(definition, { waitCap } = {}) {
  const prepared = structuredClone(definition);
  const tasks = new Map();
  const retried = new Set();
  const visit = (machine) => {
    if (machine.QueryLanguage === 'JSONata') {
      throw new HarnessError('JSONata state machines are not supported by aws-local-stepfunctions');
    }
    for (let [name, state] of Object.entries(machine.States)) {
      if (state.QueryLanguage === 'JSONata') {
        throw new HarnessError(`state ${name}: JSONata is not supported by aws-local-stepfunctions`);
      }
      if (state.Type === 'Wait' && waitCap !== undefined) {
        state = cappedWait(state);
        machine.States[name] = state;
      }
      if (state.Type === 'Task') {
        if (![LAMBDA_INVOKE, START_EXECUTION, CAPPED_WAIT].includes(state.Resource)) {
          throw new HarnessError(`state ${name}: the harness does not serve the resource ${state.Resource}`);
        }
        if (tasks.has(name) && tasks.get(name) !== state.Resource) {
          throw new HarnessError(`two Task states named ${name} call different resources`);
        }
        tasks.set(name, state.Resource);
        if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = NO_TASK_TIMEOUT_SECONDS;
        }
      }
      if (state.Retry) {
        retried.add(name);
      }
      for (const inner of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) {
        if (inner) {
          visit(inner);
        }
      }
    }
  };
  visit(prepared);
  return { definition: prepared, tasks, retried };
}

/** A Wait state as a task of the harness. The library can only replace a Wait's time with a
 * fixed one, without seeing the state's input; as a task, the library still evaluates the
 * state's own SecondsPath or TimestampPath (into Parameters) and the harness sleeps the
 * capped time. ResultPath null passes the input on, as a Wait does. */
function cappedWait({ Seconds, SecondsPath, Timestamp, TimestampPath, ...rest }) {
  let parameters;
  if (Seconds !== undefined) {
    parameters = { seconds: Seconds };
  } else if (SecondsPath !== undefined) {
    parameters = { 'seconds.$': SecondsPath };
  } else if (Timestamp !== undefined) {
    parameters = { timestamp: Timestamp };
  } else {
    parameters = { 'timestamp.$': TimestampPath };
  }
  return { ...rest, Type: 'Task', Resource: CAPPED_WAIT, Parameters: parameters, ResultPath: null };
}

/** The job's region (the functions' AWS_REGION, and the region of the ARNs). */
function regionOf(jobEnv) {
  return jobEnv.AWS_REGION ?? process.env.AWS_REGION ?? 'us-east-1';
}

/** The environment of a function's processes, as Lambda sets it (the instance adds the log
 * stream and AWS_LAMBDA_RUNTIME_API). */
function functionEnv(functionName, jobEnv) {
  const base = { ...process.env, ...jobEnv };
  const region = regionOf(jobEnv);
  return {
    ...base,
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: base.AWS_DEFAULT_REGION ?? region,
    _HANDLER: 'bootstrap',
  };
}

function traceId() {
  const epoch = Math.floor(Date.now() / 1000).toString(16);
  return `Root=1-${epoch}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The error a function reported: the body's errorType first (the Rust runtime's
 * Lambda-Runtime-Function-Error-Type header only says "unhandled"), then the header, then
 * the fallback. */
function reportedError(body, headerType, fallbackType) {
  const parsed = parseJson(body) ?? {};
  const trace = [parsed.stackTrace, parsed.trace].find(Array.isArray) ?? [];
  return {
    errorType: typeof parsed.errorType === 'string' && parsed.errorType ? parsed.errorType : headerType || fallbackType,
    errorMessage: typeof parsed.errorMessage === 'string' ? parsed.errorMessage : '',
    trace,
  };
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** One execution environment of a function: a child process of its bootstrap binary and the
 * Runtime API server it polls (one server per instance: its port tells the instances apart).
 * At most one invocation is assigned to it at a time; the invocation is handed over on the
 * instance's GET /next and settled by its POST .../response or .../error, by its init error,
 * or by its exit. */
class Instance {
  constructor({ functionName, binary, number, env, region, onHarnessError }) {
    Object.assign(this, { functionName, binary, number, env, onHarnessError });
    this.label = `${functionName}#${number}`;
    this.functionArn = `arn:aws:lambda:${region}:${ACCOUNT}:function:${functionName}`;
    this.alive = true;
    this.stopped = false; // killed by the harness: an instance still starting spawns nothing
    this.initMs = null;
    this.invocation = null; // {id, payload, settle(outcome)}
    this.delivered = false;
    this.pendingNext = null; // the held response of a GET /next (long poll)
    // Settled by the first GET /next, or rejected if the instance fails to get there.
    this.ready = Promise.withResolvers();
    this.ready.promise.catch(() => {});
    this.exited = Promise.withResolvers();
  }

  async start() {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (!res.headersSent) {
          send(res, 500, { errorType: 'HarnessError', errorMessage: error.message });
        }
      });
    });
    // A poll may wait a long time and the runtime keeps its connection: no server timeouts.
    this.server.requestTimeout = 0;
    this.server.keepAliveTimeout = 0;
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    if (this.stopped) {
      this.server.close();
      return;
    }
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
    this.spawnedAt = process.hrtime.bigint();
    this.child = spawn(this.binary, [], {
      env: {
        ...this.env,
        AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${this.server.address().port}`,
        AWS_LAMBDA_LOG_STREAM_NAME: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => process.stderr.write(`[${this.label}] ${line}\n`));
    }
    this.child.on('error', (error) => {
      const failure = new HarnessError(`cannot run ${this.label} (${this.binary}): ${error.message}`);
      this.ready.reject(failure);
      this.onHarnessError(failure);
      if (this.child.pid === undefined) {
        // Never started, so no exit will follow.
        this.alive = false;
        this.server.close();
      }
    });
    this.child.on('exit', (code, signal) => this.onExit(code, signal));
  }

  assign(invocation) {
    this.invocation = invocation;
    this.delivered = false;
    this.deliver();
  }

  deliver() {
    if (!this.invocation || this.delivered || !this.pendingNext) {
      return;
    }
    const res = this.pendingNext;
    this.pendingNext = null;
    this.delivered = true;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': this.invocation.id,
      'Lambda-Runtime-Deadline-Ms': String(Date.now() + FUNCTION_DEADLINE_MS),
      'Lambda-Runtime-Invoked-Function-Arn': this.functionArn,
      'Lambda-Runtime-Trace-Id': traceId(),
    });
    res.end(JSON.stringify(this.invocation.payload));
  }

  /** Ends the current invocation with an outcome: {payload} or {errorType, errorMessage, trace}. */
  settle(outcome) {
    const invocation = this.invocation;
    this.invocation = null;
    this.delivered = false;
    invocation?.settle(outcome);
  }

  async handle(req, res) {
    const url = req.url;
    if (req.method === 'GET' && url === `${RUNTIME}/invocation/next`) {
      if (this.initMs === null) {
        this.initMs = msBetween(this.spawnedAt, process.hrtime.bigint());
        this.ready.resolve();
      }
      this.pendingNext = res;
      res.on('close', () => {
        if (this.pendingNext === res) {
          this.pendingNext = null;
        }
      });
      this.deliver();
      return;
    }
    if (req.method !== 'POST') {
      send(res, 404, { errorType: 'NotFound', errorMessage: `${req.method} ${url}` });
      return;
    }
    const body = await readBody(req);
    const headerType = req.headers['lambda-runtime-function-error-type'];
    const answer = url.match(/^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/);
    if (answer) {
      const [, requestId, kind] = answer;
      if (!this.delivered || this.invocation.id !== decodeURIComponent(requestId)) {
        send(res, 400, { errorType: 'InvalidRequestID', errorMessage: `no invocation ${requestId} in progress` });
        return;
      }
      send(res, 202, { status: 'OK' });
      if (kind === 'response') {
        // A payload that is not JSON is handed on as its text.
        this.settle({ payload: body === '' ? null : (parseJson(body) ?? body) });
      } else {
        this.settle(reportedError(body, headerType, 'Unhandled'));
      }
      return;
    }
    if (url === `${RUNTIME}/init/error`) {
      send(res, 202, { status: 'OK' });
      const error = reportedError(body, headerType, 'Runtime.InitError');
      this.ready.reject(new HarnessError(`${this.label} failed to start: ${error.errorType}: ${error.errorMessage}`));
      // Lambda discards an environment whose init failed; the pending invocation fails with it.
      this.alive = false;
      this.settle(error);
      this.child.kill('SIGKILL');
      return;
    }
    send(res, 404, { errorType: 'NotFound', errorMessage: `POST ${url}` });
  }

  onExit(code, signal) {
    this.alive = false;
    const status = signal ? `signal: ${signal}` : `exit status ${code}`;
    this.ready.reject(new HarnessError(`${this.label} exited (${status}) before asking for an invocation`));
    if (this.invocation) {
      this.settle({
        errorType: 'Runtime.ExitError',
        errorMessage: `RequestId: ${this.invocation.id} Error: Runtime exited with error: ${status}`,
        trace: [],
      });
    }
    this.server.closeAllConnections();
    this.server.close();
    this.exited.resolve();
  }

  /** Kills the process (if it runs) and resolves once it has exited. */
  kill() {
    this.stopped = true;
    if (this.child?.pid === undefined) {
      this.server?.close();
      return Promise.resolve();
    }
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
    return this.exited.promise;
  }
}

/** The instances of one function. An invocation takes a free instance (one that has answered
 * its last invocation, whether or not it has polled again yet) or spawns a new one, as Lambda
 * scales out under concurrent invocations. */
class FunctionPool {
  constructor({ functionName, binary, env, region, clock, records, onHarnessError }) {
    Object.assign(this, { functionName, binary, env, region, clock, records, onHarnessError });
    this.instances = [];
  }

  async invoke(payload) {
    let instance = this.instances.find((candidate) => candidate.alive && !candidate.invocation);
    const cold = !instance;
    if (cold) {
      instance = this.spawn();
    }
    const startMs = this.clock();
    const { promise, resolve } = Promise.withResolvers();
    instance.assign({ id: randomUUID(), payload, settle: resolve });
    const outcome = await promise;
    this.records.invocations.push({
      function: this.functionName,
      instance: instance.number,
      cold,
      start_ms: startMs,
      duration_ms: round2(this.clock() - startMs),
      ...(outcome.errorType !== undefined && { error_type: outcome.errorType }),
    });
    return outcome;
  }

  spawn() {
    const instance = new Instance({
      functionName: this.functionName,
      binary: this.binary,
      number: this.instances.length + 1,
      env: this.env,
      region: this.region,
      onHarnessError: this.onHarnessError,
    });
    this.instances.push(instance);
    instance.ready.promise.then(
      () => this.records.coldStarts.push({ function: this.functionName, instance: instance.number, init_ms: instance.initMs }),
      () => {}, // a failed start fails the invocation it was spawned for
    );
    instance.start().catch((error) => this.onHarnessError(new HarnessError(`${instance.label}: ${error.message}`)));
    return instance;
  }

  stop() {
    return Promise.all(this.instances.map((instance) => instance.kill()));
  }
}

function optionalNumber(job, key) {
  const value = job[key];
  if (value !== undefined && (typeof value !== 'number' || !(value >= 0))) {
    throw new HarnessError(`job.${key} must be a non-negative number`);
  }
  return value;
}

function requireEnv(job) {
  const env = job.env ?? {};
  if (typeof env !== 'object' || env === null || Array.isArray(env)) {
    throw new HarnessError('job.env must be an object of environment variables');
  }
  return env;
}

function requireFunctions(job) {
  const functions = job.functions;
  if (typeof functions !== 'object' || functions === null || Object.values(functions).some((p) => typeof p !== 'string')) {
    throw new HarnessError('job.functions must map function names to binaries');
  }
  return functions;
}

/** Run mode: see the header. */
async function runJob(job) {
  if (typeof job.definition !== 'string') {
    throw new HarnessError('job.definition must be the path of a state machine file');
  }
  const functions = requireFunctions(job);
  const waitCap = optionalNumber(job, 'wait_seconds_cap');
  const retryIntervalMs = optionalNumber(job, 'retry_interval_ms');
  const timeoutSeconds = optionalNumber(job, 'timeout_seconds');
  const jobEnv = requireEnv(job);
  const jobStart = process.hrtime.bigint();
  const clock = () => msBetween(jobStart, process.hrtime.bigint());

  const { definition: loaded, machineName } = loadDefinition(job.definition, job.substitutions ?? {});
  const { definition, tasks, retried } = prepareForRun(loaded, { waitCap });
  // Validated as loaded; the copy that runs may hold the harness's own resource.
  const machine = new StateMachine(definition, { validationOptions: { noValidate: true } });
  const region = regionOf(jobEnv);
  const machineArn = `arn:aws:states:${region}:${ACCOUNT}:stateMachine:${machineName}`;

  // Settles on the job's timeout or on the first harness error.
  const stop = Promise.withResolvers();
  let harnessFailure;
  const harnessError = (error) => {
    harnessFailure ??= error;
    stop.resolve();
    return error;
  };
  const records = { invocations: [], coldStarts: [] };
  const pools = new Map(
    Object.entries(functions).map(([functionName, binary]) => [
      functionName,
      new FunctionPool({ functionName, binary, env: functionEnv(functionName, jobEnv), region, clock, records, onHarnessError: harnessError }),
    ]),
  );

  // Task handlers by resource; each receives the state's evaluated Parameters.
  const handlers = {
    [LAMBDA_INVOKE]: async ({ FunctionName, Payload }) => {
      const pool = pools.get(FunctionName);
      if (!pool) {
        throw harnessError(new HarnessError(`no binary for the function "${FunctionName}" in job.functions`));
      }
      const outcome = await pool.invoke(Payload === undefined ? {} : Payload);
      if ('payload' in outcome) {
        return { ExecutedVersion: '$LATEST', Payload: outcome.payload, StatusCode: 200 };
      }
      // Step Functions' Error and Cause for a function's error.
      const { errorType, errorMessage, trace } = outcome;
      throw new StatesError(errorType, JSON.stringify({ errorType, errorMessage, trace }));
    },
    [START_EXECUTION]: async ({ StateMachineArn, Name, Input }) => {
      if (StateMachineArn !== machineArn) {
        throw harnessError(new HarnessError(`startExecution of ${StateMachineArn}: only ${machineArn} runs here`));
      }
      let input = Input ?? {};
      if (typeof input === 'string') {
        input = parseJson(input);
        if (input === undefined) {
          throw new StatesError('StepFunctions.InvalidExecutionInputException', 'Invalid execution input: not JSON');
        }
      }
      const existing = executions.get(Name);
      // As on AWS, starting a running execution again with the same input is not an error.
      if (existing && !(existing.status === 'RUNNING' && isDeepStrictEqual(existing.input, input))) {
        throw new StatesError('StepFunctions.ExecutionAlreadyExistsException', `Execution Already Exists: '${existing.arn}'`);
      }
      const execution = existing ?? startExecution(Name, input);
      return { ExecutionArn: execution.arn, StartDate: execution.startDate };
    },
    [CAPPED_WAIT]: async ({ seconds, timestamp }) => {
      let ms;
      if (seconds !== undefined) {
        if (!Number.isInteger(seconds) || seconds < 0) {
          throw new StatesError('States.Runtime', `Wait time ${JSON.stringify(seconds)} is not a non-negative integer`);
        }
        ms = seconds * 1000;
      } else {
        ms = Date.parse(timestamp) - Date.now();
        if (Number.isNaN(ms)) {
          throw new StatesError('States.Runtime', `Wait timestamp ${JSON.stringify(timestamp)} is not a timestamp`);
        }
      }
      await sleep(Math.max(0, Math.min(ms, waitCap * 1000)));
      return {};
    },
  };
  const overrides = {
    taskResourceLocalHandlers: Object.fromEntries([...tasks].map(([name, resource]) => [name, handlers[resource]])),
  };
  if (retryIntervalMs !== undefined) {
    overrides.retryIntervalOverrides = Object.fromEntries([...retried].map((name) => [name, retryIntervalMs]));
  }

  const executions = new Map();
  function startExecution(name, input) {
    const execution = {
      name,
      arn: `arn:aws:states:${region}:${ACCOUNT}:execution:${machineName}:${name}`,
      input,
      status: 'RUNNING',
      startDate: new Date().toISOString(),
      stateTransitions: 0,
      events: 0,
    };
    executions.set(name, execution);
    const run = machine.run(input, {
      overrides,
      context: {
        Execution: { Id: execution.arn, Name: name },
        StateMachine: { Id: machineArn, Name: machineName },
      },
    });
    execution.abort = run.abort;
    const counted = (async () => {
      for await (const event of run.eventLogs) {
        execution.events += 1;
        if (event.type === 'StateEntered' || event.type === 'StateRetried') {
          execution.stateTransitions += 1;
        }
      }
    })();
    const settled = run.result.then(
      (output) => {
        if (execution.status === 'RUNNING') {
          Object.assign(execution, { status: 'SUCCEEDED', output });
        }
      },
      (error) => {
        if (execution.status !== 'RUNNING') {
          return; // aborted by the job's timeout
        }
        if (error instanceof ExecutionTimeoutError) {
          Object.assign(execution, { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution ran past its TimeoutSeconds' });
        } else {
          // An ExecutionError carries the state's error: its name is the Error, its message the Cause.
          const failure = error instanceof ExecutionError ? error.cause : error;
          Object.assign(execution, { status: 'FAILED', error: failure.name, cause: failure.message });
        }
      },
    );
    execution.done = Promise.all([settled, counted]);
    return execution;
  }

  const first = startExecution(typeof job.name === 'string' ? job.name : 'execution', job.input ?? {});
  // Waits for every execution, including those started while it waits (a JavaScript Map's
  // iterator visits the entries added during the iteration).
  const allDone = (async () => {
    for (const execution of executions.values()) {
      await execution.done;
    }
  })();
  const timer = timeoutSeconds !== undefined ? setTimeout(stop.resolve, timeoutSeconds * 1000) : undefined;
  await Promise.race([allDone, stop.promise]);
  clearTimeout(timer);
  // Whatever still runs has run out of time (or is cut short by a harness error).
  for (const execution of executions.values()) {
    if (execution.status === 'RUNNING') {
      execution.status = 'TIMED_OUT';
      execution.abort();
    }
  }
  await Promise.all([...pools.values()].map((pool) => pool.stop()));
  if (harnessFailure) {
    throw harnessFailure;
  }

  const describe = (execution) => ({
    name: execution.name,
    status: execution.status,
    input: execution.input,
    ...(execution.status === 'SUCCEEDED' && { output: execution.output }),
    ...(execution.error !== undefined && { error: execution.error, cause: execution.cause }),
    state_transitions: execution.stateTransitions,
    events: execution.events,
  });
  const { status, output, error, cause } = describe(first);
  const notes = [
    `Task states without TimeoutSeconds ran with ${NO_TASK_TIMEOUT_SECONDS} s (AWS sets no task timeout; the library's default is 60 s)`,
    'events counts the interpreter event log (execution, state entered/exited/failed/retried/caught, Map iterations), not AWS history events',
  ];
  if (waitCap !== undefined) {
    notes.push(`wait_seconds_cap: Wait states ran as harness tasks sleeping min(their time, ${waitCap} s); the interpreter logs them as Task states`);
  }
  if (retryIntervalMs !== undefined) {
    notes.push(`retry_interval_ms: every retry waited ${retryIntervalMs} ms (the library's retryIntervalOverrides: no backoff, no jitter)`);
  }
  const byStart = (a, b) => a.start_ms - b.start_ms;
  return {
    status,
    output,
    error,
    cause,
    executions: [...executions.values()].map(describe),
    invocations: records.invocations.sort(byStart),
    cold_starts: records.coldStarts,
    notes,
  };
}

/** Cold-start mode: see the header. */
async function coldStartJob(job) {
  const functions = requireFunctions(job);
  const runs = job.runs ?? 20;
  if (!Number.isInteger(runs) || runs < 1) {
    throw new HarnessError('job.runs must be a positive integer');
  }
  const report = {};
  for (const [functionName, binary] of Object.entries(functions)) {
    const env = functionEnv(functionName, requireEnv(job));
    const samples = [];
    for (let number = 1; number <= runs; number += 1) {
      // A failure to start rejects instance.ready, which is awaited below.
      const instance = new Instance({ functionName, binary, number, env, region: env.AWS_REGION, onHarnessError: () => {} });
      await instance.start();
      let timer;
      const limit = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new HarnessError(`${instance.label} did not ask for an invocation within ${INIT_LIMIT_MS} ms`)), INIT_LIMIT_MS);
      });
      try {
        await Promise.race([instance.ready.promise, limit]);
      } finally {
        clearTimeout(timer);
        await instance.kill();
      }
      samples.push(instance.initMs);
    }
    samples.sort((a, b) => a - b);
    const middle = Math.floor(runs / 2);
    report[functionName] = {
      runs,
      min_ms: samples[0],
      median_ms: runs % 2 === 1 ? samples[middle] : round2((samples[middle - 1] + samples[middle]) / 2),
      p90_ms: samples[Math.ceil(runs * 0.9) - 1], // nearest rank
      max_ms: samples[runs - 1],
    };
  }
  return { cold_start: report };
}

async function main() {
  const args = process.argv.slice(2);
  const coldStart = args.length === 1 && args[0] === '--cold-start';
  if (args.length > 0 && !coldStart) {
    throw new HarnessError('usage: node run.mjs [--cold-start] < job.json');
  }
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  const job = parseJson(Buffer.concat(chunks).toString('utf8'));
  if (typeof job !== 'object' || job === null || Array.isArray(job)) {
    throw new HarnessError('the job on stdin must be a JSON object');
  }
  return coldStart ? coldStartJob(job) : runJob(job);
}

// Runs as a command; the tests import loadDefinition and prepareForRun.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (report) => process.stdout.write(`${JSON.stringify(report, null, 2)}\n`, () => process.exit(0)),
    (error) => {
      process.stderr.write(`run.mjs: ${error instanceof HarnessError ? error.message : error.stack}\n`);
      process.exit(1);
    },
  );
}
