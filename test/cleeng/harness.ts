/**
 * A test-only channel around CleengService: the service and the cleeng logic copied from the
 * repo, plus a scene (test/cleeng/harness/) that runs steps given as a launch parameter and
 * prints every event. Built with the project's own build (bsc, simulator transforms) into
 * out/tmp/, with channel configs pointing at the real relay (relay mode: channel → relay →
 * Cleeng fake, see scripts/lib/local-stack.ts) or straight at the Cleeng fake (direct mode).
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildChannel } from '../../scripts/build';
import { runInSimulator, type SimulatorResult } from '../../scripts/lib/simulator';
import type { ChannelConfig } from '../../contract/generated';

export const repoRoot = path.resolve(__dirname, '..', '..');

/** Repo files the harness needs (spec files are left out). */
const FROM_REPO: { from: string; to: string }[] = [
    { from: 'source/records/Records.bs', to: 'source/records/Records.bs' },
    { from: 'source/lib/OfferMapping.bs', to: 'source/lib/OfferMapping.bs' },
    { from: 'source/generated/Contract.bs', to: 'source/generated/Contract.bs' },
    { from: 'components/CleengService/CleengService.xml', to: 'components/CleengService/CleengService.xml' },
    { from: 'components/CleengService/CleengService.bs', to: 'components/CleengService/CleengService.bs' }
];

const BSCONFIG = {
    rootDir: '.',
    files: ['manifest', 'source/**/*.bs', 'components/**/*.{bs,xml}', 'config/*.json'],
    stagingDir: 'out/staging/test',
    createPackage: false,
    retainStagingDir: true,
    autoImportComponentScript: true,
    sourceMap: false,
    diagnosticFilters: []
};

const MANIFEST = 'title=Cleeng Harness\nmajor_version=1\nminor_version=0\nbuild_version=0\nui_resolutions=fhd\n';

export interface HarnessConfigs {
    /** file name under config/ -> the `channel.json` document (unknown: tests also write broken ones). */
    [file: string]: ChannelConfig | unknown;
}

export interface Harness {
    dir: string;
    zipPath: string;
    run(opts: RunOptions): Promise<HarnessRun>;
    remove(): void;
}

export interface RunOptions {
    steps: unknown[];
    configPath?: string;
    /** A channel config handed to the service directly (its `config` field), instead of a file. */
    config?: ChannelConfig;
    registry?: Record<string, Record<string, string>>;
    timeoutMs?: number;
}

export interface HarnessRun {
    result: SimulatorResult;
    /** When (host clock, ms) each console line arrived. */
    lineTimes: { line: string; at: number }[];
    /** Every event the service sent, in order. */
    events: Record<string, unknown>[];
    /** True when the harness finished its steps. */
    done: boolean;
}

/** The relay-mode config document as scripts/lib/channel-config.ts writes it. */
export function relayConfig(relayUrl: string, timeoutMs = 4000): ChannelConfig {
    return {
        environment: 'local',
        cleeng: { mode: 'relay', relayUrl, apiUrl: relayUrl, jsonRpcUrl: `${relayUrl}/3.0/json-rpc`, publisherToken: '', timeoutMs },
        offers: { overrides: {} }
    };
}

/** The direct-mode (sandbox test build) config document. */
export function directConfig(baseUrl: string, publisherToken: string, timeoutMs = 4000): ChannelConfig {
    return {
        environment: 'sandbox',
        cleeng: { mode: 'direct', relayUrl: '', apiUrl: baseUrl, jsonRpcUrl: `${baseUrl}/3.0/json-rpc`, publisherToken, timeoutMs },
        offers: { overrides: {} }
    };
}

/**
 * Writes and builds the harness. `env` is the build environment (it decides pkg:/config/channel.json);
 * `configs` are extra config files (pkg:/config/<name>) a run can select with `configPath`.
 */
export async function buildHarness(env: NodeJS.ProcessEnv, configs: HarnessConfigs = {}): Promise<Harness> {
    const dir = path.join(repoRoot, 'out', 'tmp', `cleeng-harness-${process.pid}-${Date.now()}`);
    const write = (rel: string, text: string): void => {
        const file = path.join(dir, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
    };
    write('manifest', MANIFEST);
    write('bsconfig.test.json', JSON.stringify(BSCONFIG, null, 2));
    for (const { from, to } of FROM_REPO) {
        write(to, fs.readFileSync(path.join(repoRoot, from), 'utf8'));
    }
    for (const name of fs.readdirSync(path.join(repoRoot, 'source', 'cleeng'))) {
        if (name.endsWith('.bs') && !name.endsWith('.spec.bs')) {
            write(`source/cleeng/${name}`, fs.readFileSync(path.join(repoRoot, 'source', 'cleeng', name), 'utf8'));
        }
    }
    const harnessSrc = path.join(__dirname, 'harness');
    write('source/main.bs', fs.readFileSync(path.join(harnessSrc, 'main.bs'), 'utf8'));
    write('components/HarnessScene/HarnessScene.xml', fs.readFileSync(path.join(harnessSrc, 'HarnessScene.xml'), 'utf8'));
    write('components/HarnessScene/HarnessScene.bs', fs.readFileSync(path.join(harnessSrc, 'HarnessScene.bs'), 'utf8'));
    for (const [name, doc] of Object.entries(configs)) {
        write(`config/${name}`, JSON.stringify(doc, null, 2));
    }
    const built = await buildChannel({ target: 'test', simulator: true, rootDir: dir, env, quiet: true, csfake: undefined });
    return {
        dir,
        zipPath: built.zipPath,
        run: (opts) => runHarness(built.zipPath, opts),
        remove: () => fs.rmSync(dir, { recursive: true, force: true })
    };
}

async function runHarness(zipPath: string, opts: RunOptions): Promise<HarnessRun> {
    const launchParams: Record<string, string> = { steps: JSON.stringify(opts.steps) };
    if (opts.configPath) {
        launchParams.configPath = opts.configPath;
    }
    if (opts.config) {
        launchParams.config = JSON.stringify(opts.config);
    }
    const lineTimes: { line: string; at: number }[] = [];
    // The timeout is a ceiling: a run ends when the harness has done its steps.
    const result = await runInSimulator({
        app: zipPath,
        timeoutMs: opts.timeoutMs ?? 120000,
        launchParams,
        registry: opts.registry,
        onLine: (line) => lineTimes.push({ line, at: Date.now() })
    });
    const events: Record<string, unknown>[] = [];
    for (const line of result.lines) {
        const m = /^\[harness\] event (.*)$/.exec(line);
        if (m) {
            events.push(JSON.parse(m[1]!) as Record<string, unknown>);
        }
    }
    return { result, lineTimes, events, done: result.lines.includes('[harness] done') };
}

/** A cleeng.PurchaseRecord as the purchase flow hands it to the service. */
export function purchaseRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        customerEmail: 'viewer@example.com',
        offerId: 'S123123123_US',
        code: 'S123123123-US',
        purchaseId: `tx-${Date.now()}-${Math.floor(Math.random() * 1e6)}`,
        qty: 1,
        amount: '$4.99',
        total: '$5.39',
        ipAddress: '',
        createdAt: 0,
        state: 'pending',
        attempts: 0,
        nextAttemptAt: 0,
        lastError: '',
        ...overrides
    };
}
