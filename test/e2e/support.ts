/**
 * End-to-end support: the Cleeng emulator on loopback, an e2e build of the channel pointed at
 * it, and simulator runs driven by remote keys.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildChannel } from '../../scripts/build';
import { runInSimulator } from '../../scripts/lib/simulator';
import type { KeyStep, SimulatorOptions, SimulatorResult } from '../../scripts/lib/simulator-types';
import { startCleengEmulator, type CleengEmulator, type CleengEmulatorOptions } from '../../emulators/cleeng';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const screenshotsDir = path.join(repoRoot, 'out', 'screenshots', 'e2e');
export const docsScreenshotsDir = path.join(repoRoot, 'docs', 'screenshots');

export async function startEmulator(options: CleengEmulatorOptions = {}): Promise<CleengEmulator> {
    return startCleengEmulator({ grantDelayMs: 1000, ...options });
}

/** Builds the e2e channel packaging one csFake scenario, aimed at the emulator (relay mode). */
export async function buildE2E(scenario: string, emulatorUrl: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
    const out = path.join('out', 'e2e', `e2e-${scenario}-${process.pid}.zip`);
    const result = await buildChannel({
        target: 'e2e',
        csfake: scenario,
        outFile: out,
        quiet: true,
        env: { CHANNEL_ENV: 'local', CLEENG_MODE: 'relay', RELAY_URL: emulatorUrl, CLEENG_TIMEOUT_MS: '5000', ...extraEnv }
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
        timeoutMs: 30000,
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

/** Steps: wait for a screen, optionally screenshot it, then press keys. */
export function onScreen(screen: string, keys: string[] = [], screenshot?: string): KeyStep[] {
    const steps: KeyStep[] = [{ when: `[flow] screen ${screen}`, waitMs: 600 }];
    if (screenshot) {
        steps.push({ screenshot });
    }
    for (const key of keys) {
        steps.push({ key, waitMs: 400 });
    }
    return steps;
}
