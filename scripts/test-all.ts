/**
 * `npm test`: everything — TypeScript type check, import rules (scripts/check-deps.ts:
 * dependency-cruiser), BrighterScript format check, the production build
 * (compiler + bslint), the node:test files (tooling, relay, emulators, device tooling, end to end)
 * and the Rooibos suites in the simulator. The kinds run side by side; the node:test files run in
 * a pool (longest first, from the previous run's timings), each in its own process. Each kind's
 * and each file's output is printed as one block when it ends. Ends with a summary (per kind, and
 * per node:test file with its wall time) and one line `N passed, N failed` counting every test and
 * check; exits non-zero if anything failed. Everything is also written to out/test-results/.
 *
 *   npm test                              everything
 *   npm test -- --only rooibos            one kind (or several: --only typecheck,node): typecheck, deps, format, build, node, rooibos
 *   npm test -- --jobs 2                  node:test files at most 2 at a time (default TEST_JOBS or 4)
 *   npm test -- --serial                  one thing at a time (kinds in order, one node:test file at a time)
 *   npm test -- test/e2e                  only the node:test files under these paths (implies --only node)
 *
 * A node:test file that has not ended after NODE_TEST_FILE_TIMEOUT_MS (default 1800000, half an hour) is stopped
 * and counted as failed.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { checkDeps } from './check-deps';
import { parseRooibosOutputDetailed, toJUnitXml } from './lib/rooibos-output';
import { ensureGenerated } from '../contract/generate';

const root = path.resolve(__dirname, '..');
const resultsDir = path.join(root, 'out', 'test-results');
const timingsFile = path.join(resultsDir, 'node-files.json');

export interface FileResult {
    file: string;
    passed: number;
    failed: number;
    ms: number;
    /** Exit code of the file's process (null when it was stopped). */
    code: number | null;
}

export interface KindResult {
    kind: string;
    passed: number;
    failed: number;
    ms: number;
    note?: string;
    files?: FileResult[];
}

type Log = (text: string) => void;

/** A BuildError's file:line lines (./build is loaded lazily: it pulls in the compiler). */
function diagnosticsOf(err: unknown): string[] {
    const d = (err as { diagnostics?: unknown } | undefined)?.diagnostics;
    return Array.isArray(d) ? d.map(String) : [];
}

/** Collects a kind's output so it prints as one block instead of interleaving with the others. */
class Block {
    private readonly chunks: string[] = [];
    readonly log: Log = (text) => {
        this.chunks.push(text.endsWith('\n') ? text : `${text}\n`);
    };
    raw(text: string): void {
        this.chunks.push(text);
    }
    text(): string {
        return this.chunks.join('');
    }
}

function print(title: string, body: string): void {
    process.stdout.write(`\n=== ${title} ===\n${body}${body === '' || body.endsWith('\n') ? '' : '\n'}`);
}

/** Runs a command with its output captured into `out`; resolves with its exit code (null if stopped). */
function run(cmd: string, args: string[], out: Block, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<number | null> {
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, detached: true });
        child.stdout.on('data', (c: Buffer) => out.raw(c.toString('utf8')));
        child.stderr.on('data', (c: Buffer) => out.raw(c.toString('utf8')));
        let stopped = false;
        const timer =
            opts.timeoutMs === undefined
                ? undefined
                : setTimeout(() => {
                      stopped = true;
                      out.log(`\n${path.basename(cmd)} ${args[args.length - 1]}: still running after ${opts.timeoutMs} ms: stopped`);
                      try {
                          process.kill(-(child.pid as number), 'SIGKILL');
                      } catch {
                          child.kill('SIGKILL');
                      }
                  }, opts.timeoutMs);
        child.on('close', (code) => {
            if (timer) {
                clearTimeout(timer);
            }
            resolve(stopped ? null : code ?? 1);
        });
        child.on('error', (err) => {
            out.log(`${cmd}: ${err.message}`);
            resolve(1);
        });
    });
}

function bin(name: string): string {
    return path.join(root, 'node_modules', '.bin', name);
}

/** Every node:test file under test/ (or under the given paths), sorted. */
export function findNodeTests(dir = path.join(root, 'test')): string[] {
    const out: string[] = [];
    const walk = (d: string): void => {
        if (fs.statSync(d).isFile()) {
            if (d.endsWith('.test.ts')) {
                out.push(path.relative(root, d));
            }
            return;
        }
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) {
                walk(p);
            } else if (e.name.endsWith('.test.ts')) {
                out.push(path.relative(root, p));
            }
        }
    };
    walk(dir);
    return out.sort();
}

/** Folders whose files run the channel in the simulator: the slow ones, started first when no timing is known. */
const SIMULATOR_FOLDERS = ['test/e2e/', 'test/embedding/', 'test/cleeng/'];

/**
 * Longest first by the last run's wall times; files with no timing yet go first, those that run
 * the channel in the simulator before the others (a fresh clone has no timings at all).
 */
export function orderByTimings(files: string[], timings: Record<string, number>): string[] {
    const known = (f: string): number => timings[f] ?? Number.POSITIVE_INFINITY;
    const slow = (f: string): number => (SIMULATOR_FOLDERS.some((d) => f.replace(/\\/g, '/').startsWith(d)) ? 1 : 0);
    return [...files].sort((a, b) => known(b) - known(a) || (known(a) === Number.POSITIVE_INFINITY ? slow(b) - slow(a) : 0) || a.localeCompare(b));
}

function readTimings(): Record<string, number> {
    try {
        return JSON.parse(fs.readFileSync(timingsFile, 'utf8')) as Record<string, number>;
    } catch {
        return {};
    }
}

/** Counts from a node:test TAP report. */
export function tapCounts(text: string): { passed: number; failed: number } {
    const count = (label: string): number => Number(new RegExp(`^# ${label} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    return { passed: count('pass'), failed: count('fail') + count('cancelled') };
}

async function check(kind: string, out: Block, fn: () => Promise<boolean>): Promise<KindResult> {
    const started = Date.now();
    let ok = false;
    try {
        ok = await fn();
    } catch (err) {
        diagnosticsOf(err).forEach((d) => out.log(d));
        out.log(`${kind}: ${(err as Error).message}`);
    }
    return { kind, passed: ok ? 1 : 0, failed: ok ? 0 : 1, ms: Date.now() - started };
}

async function nodeTestFile(file: string, timeoutMs: number): Promise<FileResult> {
    const started = Date.now();
    const out = new Block();
    const tap = path.join(resultsDir, 'node', `${file.replace(/[\\/]/g, '__')}.tap`);
    fs.mkdirSync(path.dirname(tap), { recursive: true });
    fs.rmSync(tap, { force: true });
    const code = await run(
        process.execPath,
        ['--require', 'ts-node/register', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, file],
        out,
        { env: { TS_NODE_TRANSPILE_ONLY: 'true', FORCE_COLOR: '0' }, timeoutMs }
    );
    const counts = tapCounts(fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '');
    let failed = counts.failed;
    if (code !== 0 && failed === 0) {
        failed = 1; // the file's process failed outside a test (or was stopped)
    }
    if (counts.passed + failed === 0) {
        failed = 1;
        out.log(`${file} ran no test`);
    }
    const ms = Date.now() - started;
    print(`${file}: ${counts.passed} passed, ${failed} failed, ${(ms / 1000).toFixed(1)} s`, out.text());
    return { file, passed: counts.passed, failed, ms, code };
}

async function nodeTests(files: string[], jobs: number): Promise<KindResult> {
    const started = Date.now();
    const timings = readTimings();
    const queue = orderByTimings(files, timings);
    const timeoutMs = Number(process.env.NODE_TEST_FILE_TIMEOUT_MS ?? 1800000);
    const results: FileResult[] = [];
    const worker = async (): Promise<void> => {
        for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
            results.push(await nodeTestFile(file, timeoutMs));
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, files.length)) }, worker));
    for (const r of results) {
        timings[r.file] = r.ms;
    }
    fs.writeFileSync(timingsFile, JSON.stringify(timings, null, 2) + '\n');
    const passed = results.reduce((n, r) => n + r.passed, 0);
    let failed = results.reduce((n, r) => n + r.failed, 0);
    if (files.length === 0) {
        failed = 1;
        console.error('node:test: no test file found');
    }
    results.sort((a, b) => b.ms - a.ms);
    return { kind: 'node', passed, failed, ms: Date.now() - started, note: `${files.length} files, ${jobs} at a time`, files: results };
}

async function rooibos(out: Block): Promise<KindResult> {
    const started = Date.now();
    try {
        // Loaded here: the simulator pulls in playwright-core, which nothing else in this run needs.
        const { runInSimulator } = await import('./lib/simulator');
        const { buildChannel } = await import('./build');
        const built = await buildChannel({ target: 'test', simulator: true, quiet: true });
        const result = await runInSimulator({ app: built.zipPath, rooibos: true, timeoutMs: Number(process.env.ROOIBOS_TIMEOUT_MS ?? 300000), onLine: (l) => out.log(l) });
        const parsed = parseRooibosOutputDetailed(result.lines);
        fs.mkdirSync(resultsDir, { recursive: true });
        fs.writeFileSync(path.join(resultsDir, 'rooibos-junit.xml'), toJUnitXml({ name: 'rooibos-simulator', parsed, durationMs: result.durationMs }));
        const r = result.rooibos;
        out.log(`Rooibos: ${result.message}`);
        if (!r) {
            return { kind: 'rooibos', passed: 0, failed: 1, ms: Date.now() - started, note: result.message };
        }
        let failed = r.failed + r.crashed;
        if (!result.ok && failed === 0) {
            failed = 1; // crashed or timed out outside a test
        }
        return { kind: 'rooibos', passed: r.passed, failed, ms: Date.now() - started };
    } catch (err) {
        diagnosticsOf(err).forEach((d) => out.log(d));
        out.log(`rooibos: ${(err as Error).message}`);
        return { kind: 'rooibos', passed: 0, failed: 1, ms: Date.now() - started };
    }
}

interface Kind {
    kind: string;
    title: string;
    run(out: Block): Promise<KindResult>;
}

export interface TestAllOptions {
    only?: string[];
    jobs: number;
    serial: boolean;
    paths: string[];
}

export function parseTestAllArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): TestAllOptions {
    // 4: the end-to-end files mostly wait on the channel's own schedules (backoff, polls) while
    // using a fraction of a core each (measured: 15–45 s of CPU in 100–190 s of wall per file).
    const opts: TestAllOptions = { jobs: Number(env.TEST_JOBS ?? 4), serial: false, paths: [] };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === '--only') {
            opts.only = (argv[++i] ?? '').split(',').filter((k) => k !== '');
        } else if (arg === '--jobs') {
            opts.jobs = Number(argv[++i]);
        } else if (arg === '--serial') {
            opts.serial = true;
        } else if (arg.startsWith('--')) {
            throw new Error(`unknown option ${arg}`);
        } else {
            opts.paths.push(arg);
        }
    }
    if (!Number.isInteger(opts.jobs) || opts.jobs < 1) {
        throw new Error('--jobs (or TEST_JOBS) must be a whole number of at least 1');
    }
    if (opts.serial) {
        opts.jobs = 1;
    }
    if (opts.paths.length > 0 && !opts.only) {
        opts.only = ['node'];
    }
    return opts;
}

async function main(): Promise<number> {
    const opts = parseTestAllArgs(process.argv.slice(2));
    const want = (kind: string): boolean => !opts.only || opts.only.includes(kind);
    const started = Date.now();
    const files = opts.paths.length > 0 ? opts.paths.flatMap((p) => findNodeTests(path.resolve(root, p))) : findNodeTests();
    fs.mkdirSync(resultsDir, { recursive: true });
    // Generated contract code (contract/generated, source/generated) before the type check and builds.
    await ensureGenerated();

    const allKinds: Kind[] = [
        { kind: 'typecheck', title: 'typecheck (tsc)', run: (out) => check('typecheck', out, async () => (await run(bin('tsc'), ['--noEmit', '-p', '.'], out)) === 0) },
        { kind: 'deps', title: 'import rules (dependency-cruiser)', run: (out) => check('deps', out, () => checkDeps(out.log)) },
        { kind: 'format', title: 'format check (bsfmt)', run: (out) => check('format', out, async () => (await run(bin('bsfmt'), ['--check'], out)) === 0) },
        {
            kind: 'build',
            title: 'production build',
            run: (out) =>
                check('build', out, async () => {
                    // Always compiled here (no cache): this is the check that the channel builds clean.
                    const { buildChannel } = await import('./build');
                    const r = await buildChannel({ target: 'prod', quiet: true, cache: false });
                    out.log(`production build OK: ${path.relative(root, r.zipPath)} (${(fs.statSync(r.zipPath).size / 1024).toFixed(1)} KB) in ${(r.durationMs / 1000).toFixed(1)} s`);
                    return true;
                })
        },
        { kind: 'node', title: 'node:test', run: () => nodeTests(files, opts.jobs) },
        { kind: 'rooibos', title: 'Rooibos suites in the simulator', run: (out) => rooibos(out) }
    ];
    const kinds = allKinds.filter((k) => want(k.kind));
    if (opts.only) {
        for (const k of opts.only) {
            if (!['typecheck', 'deps', 'format', 'build', 'node', 'rooibos'].includes(k)) {
                throw new Error(`--only: unknown kind ${k} (typecheck, deps, format, build, node, rooibos)`);
            }
        }
    }
    console.log(`running ${kinds.map((k) => k.kind).join(', ')}${opts.serial ? ' one after another' : ' side by side'}; node:test: ${files.length} files, ${opts.jobs} at a time`);

    const runKind = async (k: Kind): Promise<KindResult> => {
        const out = new Block();
        const r = await k.run(out);
        const body = out.text();
        if (k.kind !== 'node' || body !== '') {
            print(`${k.title}: ${r.failed === 0 ? 'OK' : 'FAILED'} (${(r.ms / 1000).toFixed(1)} s)`, body);
        }
        return r;
    };
    const results: KindResult[] = [];
    if (opts.serial) {
        for (const k of kinds) {
            results.push(await runKind(k));
        }
    } else {
        results.push(...(await Promise.all(kinds.map(runKind))));
    }

    const wallMs = Date.now() - started;
    console.log('\n=== summary ===');
    for (const r of results) {
        console.log(`${r.kind.padEnd(10)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed  ${(r.ms / 1000).toFixed(1).padStart(6)} s${r.note ? `  (${r.note})` : ''}`);
    }
    const node = results.find((r) => r.kind === 'node');
    if (node?.files && node.files.length > 0) {
        console.log('\nnode:test files by wall time:');
        for (const f of node.files) {
            console.log(`  ${(f.ms / 1000).toFixed(1).padStart(6)} s  ${String(f.passed).padStart(3)} passed ${String(f.failed).padStart(2)} failed  ${f.file}`);
        }
    }
    const passed = results.reduce((n, r) => n + r.passed, 0);
    const failed = results.reduce((n, r) => n + r.failed, 0);
    fs.writeFileSync(path.join(resultsDir, 'summary.json'), JSON.stringify({ results, passed, failed, ms: wallMs, jobs: opts.jobs, serial: opts.serial }, null, 2) + '\n');
    console.log(`\nwall time ${(wallMs / 1000).toFixed(1)} s`);
    console.log(`${passed} passed, ${failed} failed`);
    return failed === 0 && passed > 0 ? 0 : 1;
}

if (require.main === module) {
    main().then(
        (code) => process.exit(code),
        (err: unknown) => {
            console.error(`npm test: ${(err as Error).message}`);
            process.exit(1);
        }
    );
}
