/**
 * End-to-end support: the real relay (in this process, on 127.0.0.1 port 0) in front of the
 * Cleeng fake, an e2e build of the channel aimed at the relay, and simulator runs driven by
 * remote keys. Nothing between the channel and Cleeng is stubbed: every answer the channel sees
 * is one the relay produced, from the fake's documented Cleeng answers or its own configuration.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildChannel } from '../../scripts/build';
import { runInSimulator } from '../../scripts/lib/simulator';
import type { KeyStep, SimulatorOptions, SimulatorResult } from '../../scripts/lib/simulator-types';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../scripts/lib/local-stack';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const screenshotsDir = path.join(repoRoot, 'out', 'screenshots', 'e2e');
export const docsScreenshotsDir = path.join(repoRoot, 'docs', 'screenshots');

/**
 * How many tests of one end-to-end file run at once (each on its own chain: see startChain).
 * Default 2; E2E_CONCURRENCY=1 runs them one after another.
 */
export const E2E_CONCURRENCY = ((): number => {
    const n = Number(process.env.E2E_CONCURRENCY ?? 2);
    return Number.isInteger(n) && n >= 1 ? n : 2;
})();

/** The Cleeng fake and the real relay in front of it (grants 1 s after a receipt unless told otherwise). */
export async function startChain(options: LocalStackOptions = {}): Promise<LocalStack> {
    return startLocalStack({
        ...options,
        cleeng: { grantDelayMs: 1000, ...options.cleeng },
        onRelayLog: process.env.E2E_VERBOSE ? (l) => console.log(`[relay] ${l}`) : undefined
    });
}

let builds = 0;
const built: string[] = [];
process.on('exit', () => {
    for (const name of built) {
        fs.rmSync(path.join(repoRoot, 'out', 'e2e', `${name}.zip`), { force: true });
        fs.rmSync(path.join(repoRoot, 'out', 'staging', name), { recursive: true, force: true });
    }
});

/**
 * Builds the e2e channel packaging one csFake scenario, aimed at the relay (relay mode). Every
 * call writes its own zip (and staging folder), so tests building side by side for different
 * relays never overwrite each other's; they are removed when the process exits.
 */
export async function buildE2E(scenario: string, relayUrl: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
    const name = `e2e-${scenario}-${process.pid}-${++builds}`;
    built.push(name);
    const out = path.join('out', 'e2e', `${name}.zip`);
    const result = await buildChannel({
        target: 'e2e',
        csfake: scenario,
        outFile: out,
        quiet: true,
        env: { CHANNEL_ENV: 'local', CLEENG_MODE: 'relay', RELAY_URL: relayUrl, CLEENG_TIMEOUT_MS: '5000', ...extraEnv }
    });
    return result.zipPath;
}

export interface RunOptions extends Partial<SimulatorOptions> {
    app: string;
    keys?: KeyStep[];
    launchParams?: Record<string, string>;
}

/** Runs the channel; ends with Back presses unless told otherwise. Echoes nothing unless E2E_VERBOSE. */
export async function runChannel(opts: RunOptions): Promise<SimulatorResult> {
    const result = await runInSimulator({
        // A ceiling, not a schedule: runs end when the channel closes.
        timeoutMs: 120000,
        screenshotsDir,
        onLine: process.env.E2E_VERBOSE ? (l) => console.log(l) : undefined,
        ...opts
    });
    if (process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
        fs.mkdirSync(docsScreenshotsDir, { recursive: true });
        for (const shot of result.screenshots) {
            fs.copyFileSync(shot, path.join(docsScreenshotsDir, path.basename(shot)));
        }
    }
    return result;
}

/** The screens the channel showed, in order (from `[flow] screen <name>` lines). */
export function screens(result: SimulatorResult): string[] {
    return result.lines.filter((l) => l.startsWith('[flow] screen ')).map((l) => l.slice('[flow] screen '.length).trim());
}

/** The phases the flow went through, in order. */
export function phases(result: SimulatorResult): string[] {
    return result.lines.filter((l) => l.startsWith('[flow] phase ')).map((l) => l.slice('[flow] phase '.length).trim());
}

export function explain(result: SimulatorResult): string {
    return `${result.message}\n${result.lines.filter((l) => !l.startsWith('[beacon]')).join('\n')}`;
}

/** The console line the channel prints for a receipt outcome (`[cleeng] receipt <id> <outcome> http=<code>`). */
export function receiptLines(result: SimulatorResult): { purchaseId: string; outcome: string; http: number }[] {
    const out: { purchaseId: string; outcome: string; http: number }[] = [];
    for (const line of result.lines) {
        const m = /^\[cleeng\] receipt (\S+) (\w+) http=\s*(-?\d+)/.exec(line);
        if (m) {
            out.push({ purchaseId: m[1]!, outcome: m[2]!, http: Number(m[3]) });
        }
    }
    return out;
}

/** The `[flow] message` lines (what the viewer read on screen). */
export function messages(result: SimulatorResult): string[] {
    return result.lines.filter((l) => l.startsWith('[flow] message ')).map((l) => l.slice('[flow] message '.length));
}

/**
 * Steps: wait for a screen, optionally screenshot it, then press keys. The channel prints
 * `[flow] screen <name>` after it laid the screen out and moved the focus to it, and each press
 * resolves once the engine took the key (scripts/lib/sim-page/host.js), so no fixed wait is needed.
 */
export function onScreen(screen: string, keys: string[] = [], screenshot?: string): KeyStep[] {
    const steps: KeyStep[] = [{ when: new RegExp(`^\\[flow\\] screen ${screen}\\s*$`) }];
    if (screenshot) {
        steps.push({ screenshot });
    }
    for (const key of keys) {
        steps.push({ key });
    }
    return steps;
}

/** Leaves the channel with Back once it shows a screen where Back exits (catalog, access), whenever it showed it. */
export const EXIT_WITH_BACK: KeyStep[] = [{ when: /^\[flow\] screen (catalog|access)\s*$/, anytime: true, key: 'Back' }];
