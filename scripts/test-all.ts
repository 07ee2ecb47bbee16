/**
 * `npm test`: everything, in order — TypeScript type check, BrighterScript format check, the
 * production build (compiler + bslint), the node:test suites (tooling, relay, emulators, device
 * tooling, end-to-end), and the Rooibos suites in the simulator. Ends with one line
 * `N passed, N failed` counting every test and check, and exits non-zero if anything failed.
 *
 *   npm test                     everything
 *   npm test -- --only rooibos   one kind: typecheck, format, build, node, rooibos
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildChannel, BuildError } from './build';
import { parseRooibosOutputDetailed, toJUnitXml } from './lib/rooibos-output';
import { runInSimulator } from './lib/simulator';

const root = path.resolve(__dirname, '..');
const resultsDir = path.join(root, 'out', 'test-results');

interface KindResult {
    kind: string;
    passed: number;
    failed: number;
    ms: number;
    note?: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
        child.on('close', (code) => resolve(code ?? 1));
        child.on('error', (err) => {
            console.error(`${cmd}: ${err.message}`);
            resolve(1);
        });
    });
}

function bin(name: string): string {
    return path.join(root, 'node_modules', '.bin', name);
}

/** Every node:test file under test/, sorted. */
export function findNodeTests(dir = path.join(root, 'test')): string[] {
    const out: string[] = [];
    const walk = (d: string): void => {
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

async function check(kind: string, fn: () => Promise<boolean>): Promise<KindResult> {
    const started = Date.now();
    console.log(`\n=== ${kind} ===`);
    let ok = false;
    try {
        ok = await fn();
    } catch (err) {
        if (err instanceof BuildError) {
            err.diagnostics.forEach((d) => console.error(d));
        }
        console.error(`${kind}: ${(err as Error).message}`);
    }
    return { kind, passed: ok ? 1 : 0, failed: ok ? 0 : 1, ms: Date.now() - started };
}

async function nodeTests(): Promise<KindResult> {
    const started = Date.now();
    console.log('\n=== node:test (tooling, relay, emulators, device, end to end) ===');
    const files = findNodeTests();
    fs.mkdirSync(resultsDir, { recursive: true });
    const tap = path.join(resultsDir, 'node.tap');
    const code = await run(
        process.execPath,
        ['--require', 'ts-node/register', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
        { TS_NODE_TRANSPILE_ONLY: 'true' }
    );
    const text = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
    const count = (label: string): number => Number(new RegExp(`^# ${label} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    let passed = count('pass');
    let failed = count('fail') + count('cancelled');
    if (code !== 0 && failed === 0) {
        failed = 1; // the runner itself failed
    }
    if (passed + failed === 0) {
        failed = 1;
        console.error('node:test ran no test');
    }
    return { kind: 'node', passed, failed, ms: Date.now() - started, note: `${files.length} files` };
}

async function rooibos(): Promise<KindResult> {
    const started = Date.now();
    console.log('\n=== Rooibos suites in the simulator ===');
    try {
        const built = await buildChannel({ target: 'test', simulator: true, quiet: true });
        const result = await runInSimulator({ app: built.zipPath, rooibos: true, timeoutMs: Number(process.env.ROOIBOS_TIMEOUT_MS ?? 300000), onLine: (l) => console.log(l) });
        const parsed = parseRooibosOutputDetailed(result.lines);
        fs.mkdirSync(resultsDir, { recursive: true });
        fs.writeFileSync(path.join(resultsDir, 'rooibos-junit.xml'), toJUnitXml({ name: 'rooibos-simulator', parsed, durationMs: result.durationMs }));
        const r = result.rooibos;
        console.log(`Rooibos: ${result.message}`);
        if (!r) {
            return { kind: 'rooibos', passed: 0, failed: 1, ms: Date.now() - started, note: result.message };
        }
        let failed = r.failed + r.crashed;
        if (!result.ok && failed === 0) {
            failed = 1; // crashed or timed out outside a test
        }
        return { kind: 'rooibos', passed: r.passed, failed, ms: Date.now() - started };
    } catch (err) {
        if (err instanceof BuildError) {
            err.diagnostics.forEach((d) => console.error(d));
        }
        console.error(`rooibos: ${(err as Error).message}`);
        return { kind: 'rooibos', passed: 0, failed: 1, ms: Date.now() - started };
    }
}

async function main(): Promise<number> {
    const onlyAt = process.argv.indexOf('--only');
    const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
    const want = (kind: string): boolean => !only || only === kind;
    const started = Date.now();
    const results: KindResult[] = [];
    if (want('typecheck')) {
        results.push(await check('typecheck', async () => (await run(bin('tsc'), ['--noEmit', '-p', '.'])) === 0));
    }
    if (want('format')) {
        results.push(await check('format', async () => (await run(bin('bsfmt'), ['--check'])) === 0));
    }
    if (want('build')) {
        results.push(
            await check('build', async () => {
                const r = await buildChannel({ target: 'prod', quiet: true });
                console.log(`production build OK: ${path.relative(root, r.zipPath)} (${(fs.statSync(r.zipPath).size / 1024).toFixed(1)} KB) in ${(r.durationMs / 1000).toFixed(1)} s`);
                return true;
            })
        );
    }
    if (want('node')) {
        results.push(await nodeTests());
    }
    if (want('rooibos')) {
        results.push(await rooibos());
    }
    console.log('\n=== summary ===');
    for (const r of results) {
        console.log(`${r.kind.padEnd(10)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed  ${(r.ms / 1000).toFixed(1).padStart(6)} s${r.note ? `  (${r.note})` : ''}`);
    }
    const passed = results.reduce((n, r) => n + r.passed, 0);
    const failed = results.reduce((n, r) => n + r.failed, 0);
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(path.join(resultsDir, 'summary.json'), JSON.stringify({ results, passed, failed, ms: Date.now() - started }, null, 2) + '\n');
    console.log(`wall time ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`${passed} passed, ${failed} failed`);
    return failed === 0 && passed > 0 ? 0 : 1;
}

if (require.main === module) {
    main().then((code) => process.exit(code));
}
