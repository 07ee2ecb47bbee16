/**
 * Builds the channel over brighterscript's API.
 *   prod: the channel viewers get (no test code, no csfake fixtures, fakeServer can never be on)
 *   test: the Rooibos build, for a Roku or (with --simulator) for the brs-engine simulator
 * Fails on any compiler or bslint error or warning, printing file:line for each.
 */
import { DiagnosticSeverity, ProgramBuilder } from 'brighterscript';
import * as fs from 'fs';
import * as path from 'path';
import { zipFolder } from './lib/zip';
import { cacheEnabled, compileKey, restoreCompile, storeCompile } from './lib/build-cache';
import { channelConfigFromEnv } from './lib/channel-config';
import { collectSecretsFromEnv, scanForSecrets } from './lib/secret-scan';
import { flagValue } from './lib/args';
import { loadEnv as readEnvFiles } from './lib/env';
import { applySimulatorTransforms } from './lib/sim-transforms';
import { ensureGenerated } from '../contract/generate';
import JSZip from 'jszip';

/**
 * prod: what viewers get. test: the Rooibos build. e2e: the channel itself with test-only
 * components (store emulator) and TEST_BUILD on, for end-to-end runs driven by remote keys.
 */
export type BuildTarget = 'prod' | 'test' | 'e2e';

export interface BuildOptions {
    target: BuildTarget;
    /** Apply the brs-engine workarounds (test builds for the simulator only). */
    simulator?: boolean;
    /** csFake scenario folder under test/csfake/ (or a path) packaged as pkg:/csfake in test builds. */
    csfake?: string;
    /** Root of the project (default: this repo). */
    rootDir?: string;
    /** Where to write the zip (default out/<target>.zip). */
    outFile?: string;
    /** Only lint/compile; no staging, no zip. */
    lintOnly?: boolean;
    /** Quiet: do not print progress. */
    quiet?: boolean;
    /** Environment the channel config is read from (default process.env plus an untracked .env). */
    env?: NodeJS.ProcessEnv;
    /** Reuse a cached compile with the same inputs (out/build-cache/). Default true unless BUILD_CACHE=0. */
    cache?: boolean;
}

export interface BuildResult {
    stagingDir: string;
    zipPath: string;
    durationMs: number;
    diagnostics: string[];
    /** True when the compile came from the build cache. */
    cached?: boolean;
}

export class BuildError extends Error {
    constructor(message: string, public readonly diagnostics: string[]) {
        super(message);
    }
}

const repoRoot = path.resolve(__dirname, '..');

/** process.env over an untracked .env in the project root (real variables win; empty = not set). */
export function loadEnv(rootDir: string): NodeJS.ProcessEnv {
    return readEnvFiles({ cwd: rootDir }).env;
}

/** The parts of a bsc diagnostic we print. */
interface Diagnostic {
    file?: { srcPath?: string };
    range?: { start: { line: number; character: number } };
    severity?: number;
    source?: string;
    code?: string | number;
    message: string;
}

export function formatDiagnostic(d: Diagnostic, cwd: string): string {
    const file = d.file?.srcPath ? path.relative(cwd, d.file.srcPath) : '(project)';
    const line = (d.range?.start.line ?? 0) + 1;
    const col = (d.range?.start.character ?? 0) + 1;
    const severity = d.severity === DiagnosticSeverity.Error ? 'error' : 'warning';
    const code = String(d.code ?? '');
    const rule = d.source === 'bslint' || code.startsWith('LINT') ? `bslint ${code}` : `BS${code}`;
    return `${file}:${line}:${col} ${severity} ${rule}: ${d.message}`;
}

/** Checks the production staging folder: nothing a viewer must not get. */
export function checkProductionStaging(stagingDir: string): string[] {
    const problems: string[] = [];
    const walk = (rel: string): void => {
        for (const entry of fs.readdirSync(path.join(stagingDir, rel), { withFileTypes: true })) {
            const relPath = rel ? `${rel}/${entry.name}` : entry.name;
            if (entry.isDirectory()) {
                if (entry.name.toLowerCase() === 'csfake') {
                    problems.push(`${relPath}: csFake fixtures must not ship in a production build`);
                }
                walk(relPath);
                continue;
            }
            if (/\.spec\./i.test(entry.name) || /rooibos/i.test(relPath)) {
                problems.push(`${relPath}: test code must not ship in a production build`);
            }
            if (/\.(brs|xml)$/i.test(entry.name)) {
                const text = fs.readFileSync(path.join(stagingDir, relPath), 'utf8');
                const lines = text.split(/\r?\n/);
                lines.forEach((line, i) => {
                    const code = line.replace(/'.*$/, '');
                    if (/fakeServer\s*=\s*(true|"true")/i.test(code) || /field\s*=\s*"fakeServer"[^>]*value\s*=\s*"true"/i.test(code) || /fakeServer"\s*,\s*true/i.test(code)) {
                        problems.push(`${relPath}:${i + 1}: ChannelStore fakeServer must never be on in a production build`);
                    }
                });
            }
        }
    };
    walk('');
    return problems;
}

/** Every configured secret found in the zip, as `file: label (form)` lines (never the secret itself). */
export async function scanZipForSecrets(zipBytes: Buffer, env: NodeJS.ProcessEnv): Promise<string[]> {
    const secrets = collectSecretsFromEnv(env);
    if (secrets.length === 0) {
        return [];
    }
    const zip = await JSZip.loadAsync(zipBytes);
    const files: { name: string; data: Buffer }[] = [{ name: '(zip)', data: zipBytes }];
    for (const entry of Object.values(zip.files)) {
        if (!entry.dir) {
            files.push({ name: entry.name, data: await entry.async('nodebuffer') });
        }
    }
    return scanForSecrets(files, secrets).map((f) => `${f.file}: contains ${f.label} (${f.form})`);
}

function copyDir(src: string, dest: string): void {
    fs.mkdirSync(dest, { recursive: true });
    for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
        const s = path.join(src, entry.name);
        const d = path.join(dest, entry.name);
        if (entry.isDirectory()) {
            copyDir(s, d);
        } else {
            fs.copyFileSync(s, d);
        }
    }
}

/**
 * Runs bsc (brighterscript's ProgramBuilder) with `options` (bsc's own settings; never watch, never
 * a package, bsc's console output off) and returns the diagnostics `keep` selects (default: errors
 * and warnings) as file:line text relative to `diagnosticsCwd`.
 */
export async function runBsc(
    options: Record<string, unknown>,
    diagnosticsCwd: string,
    keep: (severity: number | undefined) => boolean = (s) => s === DiagnosticSeverity.Error || s === DiagnosticSeverity.Warning
): Promise<string[]> {
    const builder = new ProgramBuilder();
    // bsc prints its own diagnostics; we print ours (file:line) instead.
    await builder.run({
        createPackage: false,
        retainStagingDir: true,
        watch: false,
        logLevel: 'error' as never,
        showDiagnosticsInConsole: false,
        ...options
    } as never);
    const diagnostics = (builder.getDiagnostics() as unknown as Diagnostic[]).filter((d) => keep(d.severity)).map((d) => formatDiagnostic(d, diagnosticsCwd));
    builder.dispose?.();
    return diagnostics;
}

/** Compiles `project` into `stagingDir` with bsc; returns every error and warning as file:line text. */
async function compile(project: string, rootDir: string, stagingDir: string, lintOnly: boolean): Promise<string[]> {
    return runBsc({ project, cwd: rootDir, rootDir, stagingDir, copyToStaging: !lintOnly, emitDefinitions: false }, process.cwd());
}

export async function buildChannel(opts: BuildOptions): Promise<BuildResult> {
    const started = Date.now();
    const rootDir = path.resolve(opts.rootDir ?? repoRoot);
    const target = opts.target;
    const project = path.join(rootDir, target === 'prod' ? 'bsconfig.json' : `bsconfig.${target}.json`);
    const variant = target === 'test' && opts.simulator ? 'test-sim' : target;
    const env = opts.env ?? loadEnv(rootDir);
    // Fails early (before compiling) on a config that must not be built, e.g. direct mode in production.
    const channelConfig = channelConfigFromEnv(env, target);
    // The channel's copy of the contract (source/generated/Contract.bs) must exist before bsc runs.
    await ensureGenerated();
    const zipPath = path.resolve(rootDir, opts.outFile ?? path.join('out', `${variant}.zip`));
    // One staging folder per output, so builds of different outputs can run side by side.
    const stagingDir = path.join(rootDir, 'out', 'staging', opts.outFile ? path.basename(zipPath, '.zip') : variant);
    fs.rmSync(stagingDir, { recursive: true, force: true });

    const useCache = !opts.lintOnly && cacheEnabled(opts.cache);
    const key = useCache ? await compileKey(project, rootDir, target) : undefined;
    const cached = key !== undefined && restoreCompile(rootDir, key, stagingDir);
    if (!cached) {
        const diagnostics = await compile(project, rootDir, stagingDir, !!opts.lintOnly);
        if (diagnostics.length > 0) {
            throw new BuildError(`${target} build failed: ${diagnostics.length} compiler/bslint problem(s)`, diagnostics);
        }
        if (opts.lintOnly) {
            return { stagingDir, zipPath, durationMs: Date.now() - started, diagnostics };
        }
        if (key !== undefined) {
            storeCompile(rootDir, key, stagingDir);
        }
    }
    const diagnostics: string[] = [];
    fs.mkdirSync(path.join(stagingDir, 'config'), { recursive: true });
    fs.writeFileSync(path.join(stagingDir, 'config', 'channel.json'), JSON.stringify(channelConfig, null, 2) + '\n');
    if (target === 'prod') {
        const problems = checkProductionStaging(stagingDir);
        if (problems.length > 0) {
            throw new BuildError('production build refused: it contains things a viewer must not get', problems);
        }
    } else {
        const scenario = opts.csfake ?? process.env.CSFAKE_SCENARIO ?? 'new-viewer';
        const fixtures = path.isAbsolute(scenario) || scenario.includes('/') ? path.resolve(scenario) : path.join(rootDir, 'test', 'csfake', scenario);
        if (fs.existsSync(fixtures)) {
            copyDir(fixtures, path.join(stagingDir, 'csfake'));
        } else if (opts.csfake) {
            throw new BuildError(`csFake scenario not found: ${fixtures}`, []);
        }
        if (opts.simulator) {
            applySimulatorTransforms(stagingDir);
        }
    }
    fs.mkdirSync(path.dirname(zipPath), { recursive: true });
    const zipBytes = await zipFolder(stagingDir);
    if (target === 'prod') {
        const findings = await scanZipForSecrets(zipBytes, env);
        if (findings.length > 0) {
            fs.rmSync(zipPath, { force: true });
            throw new BuildError('production build refused: the package contains a configured secret', findings);
        }
    }
    fs.writeFileSync(zipPath, zipBytes);
    return { stagingDir, zipPath, durationMs: Date.now() - started, diagnostics, cached };
}

function parseArgs(argv: string[]): BuildOptions {
    const opts: BuildOptions = { target: 'prod' };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = (): string => flagValue(argv, i++);
        if (arg === '--target') {
            const t = value();
            if (t !== 'prod' && t !== 'test' && t !== 'e2e') {
                throw new Error(`--target must be prod, test or e2e, not ${t}`);
            }
            opts.target = t;
        } else if (arg === '--simulator') {
            opts.simulator = true;
        } else if (arg === '--csfake') {
            opts.csfake = value();
        } else if (arg === '--out') {
            opts.outFile = value();
        } else if (arg === '--lint-only') {
            opts.lintOnly = true;
        } else if (arg === '--help' || arg === '-h') {
            console.log('usage: ts-node scripts/build.ts [--target prod|test|e2e] [--simulator] [--csfake <scenario|dir>] [--out <zip>] [--lint-only]');
            process.exit(0);
        } else {
            throw new Error(`unknown option ${arg}`);
        }
    }
    return opts;
}

if (require.main === module) {
    (async () => {
        const opts = parseArgs(process.argv.slice(2));
        const result = await buildChannel(opts);
        const size = opts.lintOnly ? '' : ` ${path.relative(process.cwd(), result.zipPath)} (${(fs.statSync(result.zipPath).size / 1024).toFixed(1)} KB)`;
        console.log(`${opts.target}${opts.simulator ? ' (simulator)' : ''} build OK in ${(result.durationMs / 1000).toFixed(1)} s:${size || ' no problems'}`);
    })().catch((err: unknown) => {
        if (err instanceof BuildError) {
            for (const d of err.diagnostics) {
                console.error(d);
            }
        }
        console.error(`build failed: ${(err as Error).message}`);
        process.exit(1);
    });
}
